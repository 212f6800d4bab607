"""The fine-tuning task: it stops at TRAINING_TIME_LIMIT, and a run lost with its worker is not
run again when the broker delivers it anew."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared.config import get_settings
from shared.job_store import JobRecord, JobStore, now_iso
from shared.jobs import JobStatus, JobType, Queue
from tests.shared.test_job_store import AsyncStoreRunner
from worker.runtime import get_runtime, reset_runtime
from worker.tasks.training import TrainingTimeLimitError, finetune, time_limit_check


def test_the_time_limit_check_raises_once_the_limit_has_passed() -> None:
    now = [100.0]
    check = time_limit_check(60, clock=lambda: now[0])
    now[0] = 159.0
    check()  # within the limit
    now[0] = 160.5
    with pytest.raises(TrainingTimeLimitError, match="TRAINING_TIME_LIMIT"):
        check()


@pytest.fixture
def runtime_on(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobStore]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    reset_runtime()
    try:
        yield get_runtime().job_store
    finally:
        get_settings.cache_clear()
        reset_runtime()


def test_a_redelivered_finetune_that_was_running_is_failed_not_run_again(
    runtime_on: JobStore, redis_url: str
) -> None:
    store = runtime_on
    record = JobRecord(
        job_id=uuid.uuid4().hex,
        type=JobType.FINETUNE,
        status=JobStatus.QUEUED,
        queue=Queue.TRAINING,
        input={"max_steps": 3},
        created_at=now_iso(),
    )
    AsyncStoreRunner(redis_url).create(record)
    assert store.start(record.job_id, worker="training@lost-host") is not None
    assert finetune(record.job_id, {"max_steps": 3}) is None  # the broker's second delivery
    stored = store.get(record.job_id)
    assert stored is not None and stored.status is JobStatus.FAILED
    assert stored.error is not None and stored.error["type"] == "WorkerLost"
    assert "no model version was published" in stored.error["message"]
