"""The worker's heartbeat lives as long as the worker: a beat that fails is logged, not fatal."""

from __future__ import annotations

import uuid

from shared.job_store import JobStore, heartbeat_key
from shared.jobs import Queue
from tests.worker.test_batching import wait_until
from worker.heartbeat import start_heartbeat


def test_a_beat_that_raises_does_not_end_the_heartbeat(runtime_on: JobStore) -> None:
    """Only Redis errors were caught: any other ended the thread for good, and the worker, still
    taking jobs, counted as dead (its running fine-tune ended as lost, its jobs run twice)."""
    hostname = f"inference@{uuid.uuid4().hex[:8]}"

    def extra() -> dict[str, int]:
        raise ValueError("a report that could not be made")

    stop = start_heartbeat(Queue.INFERENCE, hostname, extra=extra)
    try:
        # beating, though its report fails
        wait_until(lambda: runtime_on.worker_beat(Queue.INFERENCE, hostname) is not None, seconds=15)
        beat = next(w for w in runtime_on.live_workers(Queue.INFERENCE) if w["hostname"] == hostname)
        assert beat["ready"] is False
    finally:  # no live worker left behind for the tests that count them
        stop.set()
        runtime_on.client.delete(heartbeat_key(Queue.INFERENCE, hostname))
