"""The worker's heartbeat lives as long as the worker: a beat that fails is logged, not fatal."""

from __future__ import annotations

import time
import uuid

from shared.job_store import JobStore
from shared.jobs import Queue
from worker.heartbeat import start_heartbeat


def test_a_beat_that_raises_does_not_end_the_heartbeat(runtime_on: JobStore) -> None:
    """Only Redis errors were caught: any other ended the thread for good, and the worker, still
    taking jobs, counted as dead (its running fine-tune ended as lost, its jobs run twice)."""
    hostname = f"inference@{uuid.uuid4().hex[:8]}"
    beats = {"count": 0}

    def extra() -> dict[str, int]:
        beats["count"] += 1
        raise ValueError("a report that could not be made")

    start_heartbeat(Queue.INFERENCE, hostname, extra=extra)
    deadline = time.monotonic() + 15
    while not runtime_on.worker_alive(Queue.INFERENCE, hostname) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime_on.worker_alive(Queue.INFERENCE, hostname)  # beating, though its report fails
    beat = next(w for w in runtime_on.live_workers(Queue.INFERENCE) if w["hostname"] == hostname)
    assert beat["ready"] is False
