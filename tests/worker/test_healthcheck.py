"""The worker containers' health check: healthy while the worker of that queue heartbeats."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.job_store import JobStore, heartbeat_key, is_ready, worker_index_key
from shared.jobs import Queue
from worker.healthcheck import beating, main

BeatAs = Callable[[str, dict[str, Any]], None]


@pytest.fixture
def beat_as(redis_url: str) -> Iterator[BeatAs]:
    """Writes an inference worker's heartbeat for a host (with its hostname, as real beats have),
    and removes those written at the end: left behind, they were live workers to later tests."""
    store = JobStore.from_url(redis_url, ttl=600)
    written: set[str] = set()

    def beat(host: str, info: dict[str, Any]) -> None:
        hostname = f"inference@{host}"
        store.heartbeat(Queue.INFERENCE, hostname, {"hostname": hostname, **info}, ttl=30)
        written.add(hostname)

    yield beat
    for hostname in written:
        store.client.delete(heartbeat_key(Queue.INFERENCE, hostname))
        store.client.srem(worker_index_key(Queue.INFERENCE), hostname)


def test_a_worker_is_healthy_while_its_heartbeat_lasts(redis_url: str, beat_as: BeatAs) -> None:
    host = f"test-{socket.gethostname()}-healthcheck"
    assert not beating(Queue.INFERENCE, host, redis_url)
    beat_as(host, {"ready": False})  # preloading: alive
    assert beating(Queue.INFERENCE, host, redis_url)
    assert not beating(Queue.TRAINING, host, redis_url)  # the other queue's worker of that host
    assert not beating(Queue.INFERENCE, host, "redis://127.0.0.1:1/0")  # Redis unreachable: unhealthy
    assert main(["nonsense"]) == 2


def test_a_worker_whose_batch_hung_is_unhealthy_and_not_ready(redis_url: str, beat_as: BeatAs) -> None:
    """Its heartbeat thread beats on while a forward pass never returns."""
    host = f"test-{socket.gethostname()}-stuck"
    beat = {"ready": True, "stuck_batches": {"llm": 130.5}}
    beat_as(host, beat)
    assert not beating(Queue.INFERENCE, host, redis_url)
    assert not is_ready(beat)
    beat_as(host, {**beat, "stuck_batches": {}})
    assert beating(Queue.INFERENCE, host, redis_url)
    assert is_ready({**beat, "stuck_batches": {}})
