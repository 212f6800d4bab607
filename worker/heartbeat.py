"""Tell the API which workers are alive, on which queue, with which models loaded.

A thread refreshes a short-lived Redis key per worker; ``GET /ready`` and ``GET /workers`` read
them. A worker that dies simply stops refreshing its key. An inference worker beats from the
moment it takes jobs, with ``ready`` false until its models are preloaded.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import redis
from celery.worker import state as worker_state

from shared.jobs import Queue
from shared.log_throttle import ThrottledLog
from worker.runtime import get_runtime

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 2.0
TTL_SECONDS = 10


def running_job_ids() -> list[str]:
    """The jobs this worker runs: Celery's active requests, known to the main process of either
    pool (the inference worker's threads, the training worker's child process)."""
    return sorted(request.id for request in list(worker_state.active_requests))


def start_heartbeat(
    queue: Queue,
    hostname: str,
    extra: Callable[[], dict[str, Any]] | None = None,
    ready: Callable[[], bool] = lambda: True,
) -> threading.Event:
    """Beat from now on, until the event returned is set (a worker beats as long as it lives).
    ``ready`` says whether the worker has done what it does before it counts
    as ready (GET /ready): until then it beats too, since it takes jobs, and a worker with no
    heartbeat is one whose running jobs count as lost."""
    runtime = get_runtime()
    beat_failed = ThrottledLog(logger, logging.WARNING)  # every 2 s while Redis is down otherwise
    report_failed = ThrottledLog(logger, logging.ERROR)

    stopped = threading.Event()

    def beat() -> None:
        while not stopped.is_set():
            info: dict[str, Any] = {
                "hostname": hostname,
                "queue": queue.value,
                "pid": os.getpid(),
                # which beat this is (another worker waits for a new one: a SIGKILLed worker's last
                # beat lives TTL_SECONDS on), and the jobs this worker runs (a process started anew
                # under its hostname runs none of its predecessor's)
                "beat_id": uuid.uuid4().hex,
            }
            try:
                info.update(ready=ready(), **runtime.status())
                if extra:
                    info.update(extra())
            except Exception:  # it beats all the same (a worker with no heartbeat counts as dead, its
                # running jobs as lost), saying it is not ready
                info["ready"] = False
                report_failed.log("heartbeat: the worker's state could not be read", exc_info=True)
            # read last, just before the write: a job taken while the rest was read is listed
            info["running_jobs"] = running_job_ids()
            try:
                runtime.job_store.heartbeat(queue, hostname, info, TTL_SECONDS)
            except redis.RedisError as error:
                beat_failed.log("heartbeat failed: %s", error)
            except Exception:  # the thread must live on
                report_failed.log("heartbeat failed", exc_info=True)
            stopped.wait(INTERVAL_SECONDS)

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
    return stopped
