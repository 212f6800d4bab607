"""The worker containers' health check: healthy while the worker of that queue heartbeats."""

from __future__ import annotations

import socket

from shared.job_store import JobStore, is_ready
from shared.jobs import Queue
from worker.healthcheck import beating, main


def test_a_worker_is_healthy_while_its_heartbeat_lasts(redis_url: str) -> None:
    host = f"test-{socket.gethostname()}-healthcheck"
    store = JobStore.from_url(redis_url, ttl=600)
    assert not beating(Queue.INFERENCE, host, redis_url)
    store.heartbeat(Queue.INFERENCE, f"inference@{host}", {"ready": False}, ttl=30)  # preloading: alive
    assert beating(Queue.INFERENCE, host, redis_url)
    assert not beating(Queue.TRAINING, host, redis_url)  # the other queue's worker of that host
    assert not beating(Queue.INFERENCE, host, "redis://127.0.0.1:1/0")  # Redis unreachable: unhealthy
    assert main(["nonsense"]) == 2


def test_a_worker_whose_batch_hung_is_unhealthy_and_not_ready(redis_url: str) -> None:
    """Its heartbeat thread beats on while a forward pass never returns."""
    host = f"test-{socket.gethostname()}-stuck"
    store = JobStore.from_url(redis_url, ttl=600)
    beat = {"ready": True, "stuck_batches": {"llm": 130.5}}
    store.heartbeat(Queue.INFERENCE, f"inference@{host}", beat, ttl=30)
    assert not beating(Queue.INFERENCE, host, redis_url)
    assert not is_ready(beat)
    store.heartbeat(Queue.INFERENCE, f"inference@{host}", {**beat, "stuck_batches": {}}, ttl=30)
    assert beating(Queue.INFERENCE, host, redis_url)
    assert is_ready({**beat, "stuck_batches": {}})
