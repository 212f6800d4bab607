"""Liveness, readiness and the workers the API can see."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from api.deps import JobStoreDep
from shared.job_store import is_ready
from shared.jobs import Queue

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
# A readiness probe waits a few seconds: a Redis that hangs makes the API not ready, at once.
READY_TIMEOUT_S = 2.0


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the API process answers."""
    return {"status": "ok"}


class Readiness(BaseModel):
    ready: bool
    redis: str
    workers: dict[str, int] = Field(
        description="Live workers per queue that are ready (preloading done: the stored models loaded;"
        " none failed to load with no version in memory; no batch hung)"
    )


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Redis unreachable or a queue has no live worker"}},
)
async def ready(
    response: Response,
    store: JobStoreDep,
    queue: Annotated[
        Queue | None,
        Query(
            description="Only this queue's workers count (`inference`: the probe of an API that serves"
            " inference, which a training worker's restart need not take out of its load balancer)"
        ),
    ] = None,
) -> Readiness:
    """Readiness: Redis answers and at least one live worker consumes each queue, having loaded the
    models of its PRELOAD_MODELS that the store holds (one still training is not waited for:
    `GET /models` says which have a served version)."""
    queues = [queue] if queue is not None else list(Queue)
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await store.ping()
            workers = {
                each.value: sum(is_ready(worker) for worker in await store.live_workers(each))
                for each in queues
            }
    except (redis.RedisError, OSError) as error:  # TimeoutError among them
        logger.warning("readiness: Redis unreachable: %s", error)  # its address is the operator's
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(ready=False, redis="unreachable", workers={})
    every_queue = all(workers.values())
    if not every_queue:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(ready=every_queue, redis="ok", workers=workers)


@router.get("/workers")
async def workers(store: JobStoreDep) -> dict[str, list[dict[str, Any]]]:
    """Live workers per queue, with the model versions they hold and how often they loaded them."""
    return {
        queue.value: [
            {key: value for key, value in beat.items() if key not in WORKERS_OWN_FIELDS}
            for beat in await store.live_workers(queue)
        ]
        for queue in Queue
    }


# What a heartbeat holds for the other workers alone: the ids of the jobs it runs are every API
# key's (GET /jobs shows a key its own), and which beat it is means nothing to a client.
WORKERS_OWN_FIELDS = frozenset({"running_jobs", "beat_id"})
