"""Fixtures for worker code run in the test process against a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.config import get_settings
from shared.job_store import JobRecord, JobStore, now_iso
from shared.jobs import JobStatus, JobType, Queue
from tests.shared.test_job_store import AsyncStoreRunner
from worker.runtime import get_runtime, reset_runtime


@pytest.fixture
def runtime_on(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobStore]:
    """This process's worker runtime, on the test Redis; its job store."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    reset_runtime()
    try:
        yield get_runtime().job_store
    finally:
        get_settings.cache_clear()
        reset_runtime()


@pytest.fixture
def queued_finetune(redis_url: str) -> Callable[..., str]:
    """Records a fine-tune job as the API does (queued, indexed; its input ``{"max_steps": 3}``
    unless given); returns its id."""

    def create(job_input: dict[str, Any] | None = None) -> str:
        record = JobRecord(
            job_id=uuid.uuid4().hex,
            type=JobType.FINETUNE,
            status=JobStatus.QUEUED,
            queue=Queue.TRAINING,
            input=job_input or {"max_steps": 3},
            created_at=now_iso(),
        )
        AsyncStoreRunner(redis_url).create(record)
        return record.job_id

    return create
