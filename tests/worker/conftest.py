"""Fixtures for worker code run in the test process against a real Redis."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from shared.config import get_settings
from shared.job_store import JobRecord, JobStore, heartbeat_key, now_iso
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


@contextmanager
def beating(store: JobStore, queue: Queue, hostname: str, running_jobs: list[str]) -> Iterator[None]:
    """A live worker's heartbeat, as ``worker.heartbeat`` writes it: a new beat every 0.2 s that
    lists the jobs it runs. Removed at the end."""
    stopped = threading.Event()

    def beat_once() -> None:
        info = {"hostname": hostname, "beat_id": uuid.uuid4().hex, "running_jobs": running_jobs}
        store.heartbeat(queue, hostname, info, ttl=10)

    def beat() -> None:
        while not stopped.wait(0.2):
            beat_once()

    beat_once()  # there before the test goes on

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()
        store.client.delete(heartbeat_key(queue, hostname))
