"""Cancel the running jobs revoked through Celery: Flower's Revoke and Terminate buttons, and
``celery control revoke``.

Celery drops a revoked message it has not started (``dropped_jobs`` ends its job), and kills a task
revoked with ``terminate`` where its pool can: not the inference worker's threads, and a plain
revoke not at all. A running job went on to succeed. The worker's main process knows which of the
tasks it runs were revoked; it asks each such job to stop as its user's ``DELETE /jobs/<id>``
does: an LLM generation at its next token, a fine-tune at its next step, a short job's result
dropped.
"""

from __future__ import annotations

import logging
import threading

import redis
from celery.worker import state as worker_state

from shared.job_store import JobStore
from shared.log_throttle import ThrottledLog
from worker.heartbeat import running_job_ids

logger = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0


def cancel_revoked_running_jobs(store: JobStore, already_asked: set[str]) -> list[str]:
    """Ask each running task's job that was revoked to stop; the ids newly asked. ``already_asked``
    is kept to the tasks still running."""
    running = set(running_job_ids())
    already_asked &= running
    asked = []
    for job_id in sorted(running - already_asked):
        if job_id in worker_state.revoked and store.request_cancel(job_id) is not None:
            already_asked.add(job_id)
            asked.append(job_id)
    return asked


def start_revoke_watch(store: JobStore) -> threading.Event:
    """Watch from now on, in this (the worker's main) process, until the event returned is set."""
    stopped = threading.Event()
    failed = ThrottledLog(logger, logging.WARNING)

    def watch() -> None:
        asked: set[str] = set()
        while not stopped.wait(WATCH_INTERVAL_S):
            try:
                for job_id in cancel_revoked_running_jobs(store, asked):
                    logger.info(
                        "job %s was revoked through Celery while it ran: cancelling it",
                        job_id,
                        extra={"job_id": job_id},
                    )
            except redis.RedisError as error:  # asked again once Redis is back
                failed.log("could not cancel the revoked running jobs: %s", error)

    threading.Thread(target=watch, name="revoke-watch", daemon=True).start()
    return stopped
