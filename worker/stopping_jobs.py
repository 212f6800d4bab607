"""End the running fine-tune when the training worker is stopped, instead of losing it.

Celery's warm shutdown waits for the task it runs, and a fine-tune runs for minutes to hours:
compose's stop grace (or `make run`'s) ran out first, the worker was killed, and the job showed
``running`` until a training worker started again and found it orphaned. Now, as the worker's main
process starts its shutdown, it asks each job it runs to stop at its next step, as a cancel does;
the run ends ``failed`` (``WorkerStoppedError``: nothing published, submit it again) and the worker
exits within the grace. A run already publishing its version finishes instead: that takes a moment.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from celery.signals import worker_shutting_down

from shared.job_store import JobStore
from worker.heartbeat import running_job_ids

logger = logging.getLogger(__name__)


def ask_running_jobs_to_stop(store: JobStore) -> list[str]:
    """Ask each job this worker runs to stop because the worker is stopping; the ids asked."""
    asked = []
    for job_id in running_job_ids():
        if store.request_stop_for_shutdown(job_id) is not None:
            asked.append(job_id)
            logger.warning(
                "job %s: the worker is stopping; the run stops at its next step",
                job_id,
                extra={"job_id": job_id},
            )
    return asked


def stop_running_jobs_on_shutdown(store: JobStore) -> None:
    """From now on, a shutdown of this (the worker's main) process asks its running jobs to stop."""

    def on_shutdown(**_: Any) -> None:
        # Celery sends the signal from its signal handler, on the main thread, which may be inside
        # a call to the same Redis connection pool: the requests go from a thread of their own.
        threading.Thread(target=_ask, name="stop-running-jobs", daemon=True).start()

    def _ask() -> None:
        try:
            ask_running_jobs_to_stop(store)
        except redis.RedisError as error:  # the run is killed at the grace's end, as before
            logger.warning("could not ask the running jobs to stop: %s", error)

    worker_shutting_down.connect(on_shutdown, weak=False)
