"""The fine-tuning task: it stops at TRAINING_TIME_LIMIT, and a run lost with its worker is not
run again when the broker delivers it anew."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from shared.job_store import JobStore
from shared.jobs import JobStatus, Queue
from worker.tasks.training import TrainingTimeLimitError, finetune, time_limit_check


def test_the_time_limit_check_raises_once_the_limit_has_passed() -> None:
    now = [100.0]
    check = time_limit_check(60, clock=lambda: now[0])
    now[0] = 159.0
    check()  # within the limit
    now[0] = 160.5
    with pytest.raises(TrainingTimeLimitError, match="TRAINING_TIME_LIMIT"):
        check()


def test_a_redelivered_finetune_that_was_running_is_failed_not_run_again(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    store = runtime_on
    job_id = queued_finetune()
    assert store.start(job_id, worker="training@lost-host") is not None
    assert finetune(job_id, {"max_steps": 3}) is None  # the broker's second delivery
    stored = store.get(job_id)
    assert stored is not None and stored.status is JobStatus.FAILED
    assert stored.error is not None and stored.error["type"] == "WorkerLost"
    assert "no model version was published" in stored.error["message"]


def test_a_finetune_delivered_twice_while_a_live_worker_runs_it_is_left_to_that_worker(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    """A message published twice (a publish retried after Redis applied it but lost its reply)
    reaches a second worker while the first runs the job: the copy is dropped, the run goes on."""
    store = runtime_on
    job_id = queued_finetune()
    running_on = f"training@{uuid.uuid4().hex[:8]}"
    assert store.start(job_id, worker=running_on) is not None
    store.heartbeat(Queue.TRAINING, running_on, {}, ttl=30)
    assert finetune(job_id, {"max_steps": 3}) is None  # the copy
    stored = store.get(job_id)
    assert stored is not None and stored.status is JobStatus.RUNNING and stored.worker == running_on
