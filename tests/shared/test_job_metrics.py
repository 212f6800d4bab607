"""The job counts the API's /metrics reads from Redis say when Redis did not answer."""

from __future__ import annotations

import redis
from prometheus_client import CollectorRegistry, generate_latest

from shared.job_metrics import JobMetricsCollector


def scrape(client: redis.Redis) -> str:
    registry = CollectorRegistry()
    registry.register(JobMetricsCollector(client))
    return generate_latest(registry).decode()


def test_an_unreachable_redis_is_a_zero_not_a_silence(redis_url: str) -> None:
    """The job metrics vanished from the scrape: an alert on queue_depth saw no data, not an outage."""
    up = scrape(redis.Redis.from_url(redis_url, decode_responses=True))
    assert "job_store_up 1.0" in up and "queue_depth{" in up
    down = scrape(
        redis.Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=1)
    )
    assert "job_store_up 0.0" in down and "queue_depth{" not in down
