"""Job counters and timing histograms kept in Redis, so every API replica reports the same totals.

Workers record what only they see (start, finish, queue wait, run time); the API records
submissions and cancels of queued jobs. ``JobMetricsCollector`` turns the Redis state into
Prometheus metric families for ``GET /metrics``, with the queue depth of each queue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from shared.jobs import JobType, Queue

COUNTS_KEY = "metrics:jobs"
BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    1800.0,
    7200.0,
    math.inf,
)
HISTOGRAMS = {
    "queue_wait": "Seconds a job waited in its queue before a worker started it",
    "run_time": "Seconds a job ran in a worker",
}
# "withdrawn": a submission whose job was never published (the broker refused it, or a request with
# the same Idempotency-Key won): counted apart, since a counter that went down reads as a reset
EVENTS = ("submitted", "withdrawn", "succeeded", "failed", "cancelled")


def histogram_key(kind: str, job_type: str) -> str:
    return f"metrics:{kind}:{job_type}"


def job_count(job_type: JobType, event: str) -> str:
    """The counter of one event of jobs of one type (a field of COUNTS_KEY)."""
    return f"{job_type.value}:{event}"


def count_job(pipe: Any, job_type: JobType, event: str) -> None:
    pipe.hincrby(COUNTS_KEY, job_count(job_type, event), 1)


def observe(pipe: Any, kind: str, job_type: str, seconds: float) -> None:
    key = histogram_key(kind, job_type)
    for bound in BUCKETS:
        if seconds <= bound:
            pipe.hincrby(key, _label(bound), 1)
    pipe.hincrbyfloat(key, "sum", seconds)


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def _label(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def _job_store_up(answered: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "job_store_up", "Whether Redis, holding the job counts, answered", value=int(answered)
    )


class JobMetricsCollector(Collector):
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator[Any]:
        try:
            counts = self.client.hgetall(COUNTS_KEY)
            from shared.job_store import waiting_jobs_key  # it imports this module

            now = time.time()
            depths = {queue: self.client.zcount(waiting_jobs_key(queue), now, "+inf") for queue in Queue}
            histograms = {
                (kind, job_type): self.client.hgetall(histogram_key(kind, job_type.value))
                for kind in HISTOGRAMS
                for job_type in JobType
            }
        except redis.RedisError:  # the job counts are Redis's: none to give, and the outage said
            yield _job_store_up(False)
            return
        yield _job_store_up(True)
        jobs = CounterMetricFamily("jobs", "Jobs by type and event", labels=["type", "event"])
        for job_type in JobType:
            for event in EVENTS:
                jobs.add_metric([job_type.value, event], float(counts.get(f"{job_type.value}:{event}", 0)))
        yield jobs
        depth = GaugeMetricFamily(
            "queue_depth", "Jobs waiting in each queue (cancelled ones not counted)", labels=["queue"]
        )
        for queue, value in depths.items():
            depth.add_metric([queue.value], float(value))
        yield depth
        for kind, description in HISTOGRAMS.items():
            family = HistogramMetricFamily(f"job_{kind}_seconds", description, labels=["type"])
            for job_type in JobType:
                raw = histograms[(kind, job_type)]
                buckets = [(_label(b), float(raw.get(_label(b), 0))) for b in BUCKETS]
                family.add_metric([job_type.value], buckets, sum_value=float(raw.get("sum", 0.0)))
            yield family
