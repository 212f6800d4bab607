"""Celery app of the inference workers (queue ``inference``).

Run: ``celery -A worker.inference_app worker -Q inference --pool threads --concurrency 32``.
One process holds the models; its task threads feed the batcher, which runs batched forward
passes. Models are loaded once, when the worker is ready, in the process that serves them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery.concurrency import thread as thread_pool
from celery.signals import worker_ready

import worker.dropped_jobs  # (ends the jobs whose messages Celery drops)
import worker.tasks.inference  # noqa: F401  (registers the tasks)
from shared.celery_app import create_celery_app
from shared.jobs import Queue
from shared.logging_setup import configure_logging, keep_celery_from_reconfiguring
from shared.model_registry import ModelName
from worker.heartbeat import start_heartbeat
from worker.metrics import serve_metrics
from worker.model_cache import RETRY_FAILED_LOAD_S
from worker.progress_bars import silence_library_progress_bars
from worker.revoked_jobs import start_revoke_watch
from worker.runtime import get_runtime
from worker.task_events import UnbufferedTaskEvents

configure_logging()
keep_celery_from_reconfiguring()
silence_library_progress_bars()
logger = logging.getLogger(__name__)

app = create_celery_app(role=Queue.INFERENCE)


def _terminate_by_cancelling(_pool: object, _pid: int | None, _signal: int | None = None) -> None:
    """Terminate (Flower's button, `revoke --terminate`) on this worker's threads, which cannot
    be killed: Celery's thread pool raised NotImplementedError, logged as an ERROR with its
    traceback at each click. The job is cancelled instead (worker.dropped_jobs)."""


thread_pool.TaskPool.terminate_job = _terminate_by_cancelling  # type: ignore[method-assign]
app.steps["consumer"].add(UnbufferedTaskEvents)  # Flower sees every task's end (the pool's threads)


@worker_ready.connect
def _preload_then_announce(sender: Any, **_: Any) -> None:
    preloaded = threading.Event()

    def run() -> None:
        runtime = get_runtime()
        serve_metrics(runtime.settings.inference_metrics_port, runtime.settings.metrics_host)
        # it takes jobs while it preloads: alive from now on (a worker with no heartbeat is one
        # whose running jobs count as lost), ready once its models are in memory
        names = [ModelName(name) for name in runtime.settings.preload_models]
        # not ready while a model it preloads failed to load and none of its versions is in memory:
        # every job for it fails (ready again once a version loads, at a job's request)
        start_heartbeat(
            Queue.INFERENCE,
            sender.hostname,
            ready=lambda: preloaded.is_set() and not runtime.models.unservable(names),
        )
        start_revoke_watch(runtime.job_store)
        runtime.models.preload(names)
        preloaded.set()
        logger.info("inference worker %s ready on %s", sender.hostname, runtime.models.device)
        while True:  # a preload that failed is tried again (not only at a job's request)
            time.sleep(RETRY_FAILED_LOAD_S)
            runtime.models.retry_unservable(names)

    threading.Thread(target=run, name="preload", daemon=True).start()
