"""End the running fine-tune when the training worker is stopped, instead of losing it.

Celery's warm shutdown waits for the task it runs, and a fine-tune runs for minutes to hours:
compose's stop grace (or `make run`'s) ran out first, the worker was killed, and the job showed
``running`` until a training worker started again and found it orphaned. Now, once the worker's
main process starts a warm shutdown (SIGTERM, or a first SIGINT: what compose and `make run` send),
it asks each job it runs to stop at its next batch, as a cancel does; the run ends ``failed``
(``WorkerStoppedError``: nothing published, submit it again) and the worker exits within the grace.
A run already publishing its version finishes instead: that takes a moment. (A cold shutdown, or
SIGQUIT, drops Celery's record of its running tasks before it says it is stopping: their jobs
end as lost, as before.)
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from celery.signals import worker_shutting_down

from shared.job_store import JobStore
from shared.log_throttle import ThrottledLog
from worker.heartbeat import running_job_ids

logger = logging.getLogger(__name__)

ASK_EVERY_S = 1.0


def ask_running_jobs_to_stop(store: JobStore, hostname: str, already_asked: set[str]) -> list[str]:
    """Ask each job this worker runs to stop because the worker is stopping; the ids newly asked.

    A job counts once this worker has started it: a task it has taken but not started yet (its
    record still ``queued``) is asked on a later call, and a copy of another worker's running job
    that waits here (``JobTask._run_again``) is never asked."""
    asked = []
    for job_id in running_job_ids():
        if job_id in already_asked:
            continue
        record = store.get(job_id)
        if record is None or record.worker != hostname:
            continue
        if store.request_stop_for_shutdown(job_id) is not None:
            already_asked.add(job_id)
            asked.append(job_id)
            logger.warning(
                "job %s: the worker is stopping; the run stops at its next batch",
                job_id,
                extra={"job_id": job_id},
            )
    return asked


def stop_running_jobs_on_shutdown(store: JobStore, hostname: str) -> None:
    """From now on, a warm shutdown of this (the worker's main) process asks its running jobs to
    stop, and goes on asking, each second, for those it starts until it exits."""
    started = threading.Event()

    def on_shutdown(**_: Any) -> None:
        # Celery sends the signal from its signal handler, on the main thread, which may be inside
        # a call to the same Redis connection pool: the requests go from a thread of their own.
        if not started.is_set():
            started.set()
            threading.Thread(target=_ask_until_exit, name="stop-running-jobs", daemon=True).start()

    def _ask_until_exit() -> None:
        asked: set[str] = set()
        failed = ThrottledLog(logger, logging.WARNING)
        while True:
            try:
                ask_running_jobs_to_stop(store, hostname, asked)
            except redis.RedisError as error:  # asked again next second; killed at the grace's end
                failed.log("could not ask the running jobs to stop: %s", error)
            time.sleep(ASK_EVERY_S)

    worker_shutting_down.connect(on_shutdown, weak=False)
