"""Prometheus metrics of the API: requests per route and status, plus the job metrics in Redis."""

from __future__ import annotations

import time

import anyio
import redis
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ForbiddenError, documented
from shared.job_metrics import JobMetricsCollector

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)

router = APIRouter(tags=["health"])

# The methods counted by name; any other is "OTHER". A request's method is any token the client
# sends (h11 takes up to 16 KB of one, with no key: 401s are counted too), and each new label
# value is a series Prometheus keeps for ever: 20,000 made-up methods took the API from 70 to 178 MB.
COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in COUNTED_METHODS else "OTHER"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = method_label(scope["method"])
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)


def install_job_metrics(redis_url: str) -> None:
    """Expose the Redis-held job metrics (idempotent: one collector per process)."""
    if not getattr(install_job_metrics, "done", False):
        client = redis.Redis.from_url(
            redis_url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2
        )
        REGISTRY.register(JobMetricsCollector(client))
        install_job_metrics.done = True  # type: ignore[attr-defined]


@router.get("/metrics", response_class=Response, responses=documented(403))
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests, jobs per type and outcome, queue depth, job timings."""
    if not getattr(request.state, "may_read_metrics", True):
        raise ForbiddenError(
            "this API key may not read the metrics: they count every key's jobs, and METRICS_API_KEYS"
            " names the keys that may"
        )
    body = await anyio.to_thread.run_sync(generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
