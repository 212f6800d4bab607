"""A stopping training worker asks the jobs it runs to stop, and no other job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from celery.worker import state as worker_state

from shared.job_store import JobStore
from worker.stopping_jobs import ask_running_jobs_to_stop

HERE, ELSEWHERE = "training@stopping-host", "training@other-host"


class TakenTask:
    """What this test needs of a Celery request: its id (the job's)."""

    def __init__(self, job_id: str) -> None:
        self.id = job_id


@contextmanager
def active(*job_ids: str) -> Iterator[None]:
    """Celery's record of the tasks this worker has taken, as its main process keeps it."""
    requests = [TakenTask(job_id) for job_id in job_ids]
    worker_state.active_requests.update(requests)  # type: ignore[arg-type]
    try:
        yield
    finally:
        worker_state.active_requests.difference_update(requests)  # type: ignore[arg-type]


def test_only_the_jobs_this_worker_has_started_are_asked_and_each_once(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    """A copy of another worker's running job, waiting here, had that worker's live run failed; a
    job taken but not yet started when the stop came was never asked and ran on past the grace."""
    store = runtime_on
    mine, copy_of_theirs, not_started = queued_finetune(), queued_finetune(), queued_finetune()
    assert store.start(mine, worker=HERE) is not None
    assert store.start(copy_of_theirs, worker=ELSEWHERE) is not None
    asked: set[str] = set()
    with active(mine, copy_of_theirs, not_started):
        assert ask_running_jobs_to_stop(store, HERE, asked) == [mine]
        assert store.start(not_started, worker=HERE) is not None
        assert ask_running_jobs_to_stop(store, HERE, asked) == [not_started]
        assert ask_running_jobs_to_stop(store, HERE, asked) == []
    assert store.stop_requests(mine) == (False, True)
    assert store.stop_requests(not_started) == (False, True)
    assert store.stop_requests(copy_of_theirs) == (False, False)
