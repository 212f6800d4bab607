"""Tell the API which workers are alive, on which queue, with which models loaded.

A thread refreshes a short-lived Redis key per worker; ``GET /ready`` and ``GET /workers`` read
them. A worker that dies simply stops refreshing its key. An inference worker beats from the
moment it takes jobs, with ``ready`` false until its models are preloaded.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import redis

from shared.jobs import Queue
from worker.runtime import get_runtime

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 2.0
TTL_SECONDS = 10


def start_heartbeat(
    queue: Queue,
    hostname: str,
    extra: Callable[[], dict[str, Any]] | None = None,
    ready: Callable[[], bool] = lambda: True,
) -> None:
    """Beat from now on. ``ready`` says whether the worker has done what it does before it counts
    as ready (GET /ready): until then it beats too, since it takes jobs, and a worker with no
    heartbeat is one whose running jobs count as lost."""
    runtime = get_runtime()

    def beat() -> None:
        while True:
            try:
                info = {
                    "hostname": hostname,
                    "queue": queue.value,
                    "pid": os.getpid(),
                    "ready": ready(),
                    **runtime.status(),
                }
                if extra:
                    info.update(extra())
                runtime.job_store.heartbeat(queue, hostname, info, TTL_SECONDS)
            except redis.RedisError as error:
                logger.warning("heartbeat failed: %s", error)
            except Exception:  # the thread must live on: a worker with no heartbeat counts as dead,
                # its running jobs as lost (run again elsewhere, a fine-tune ended)
                logger.exception("heartbeat failed")
            threading.Event().wait(INTERVAL_SECONDS)

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
