"""Celery app of the training worker (queue ``training``, one job at a time).

Run: ``celery -A worker.training_app worker -Q training --pool prefork --concurrency 1``.
A training run happens in the pool's child process, so the parent never touches CUDA and stays
responsive (events for Flower, cancel requests). Stopping the worker (SIGTERM to its main process)
ends the run at its next step, failed (`worker.stopping_jobs`). If the child or the whole worker dies mid-run,
the job is marked failed rather than run again (by the next training worker to start, or when the
broker delivers it anew): a new run must be asked for explicitly, and the served model version is
never touched by a run that did not finish.
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.exceptions import TimeLimitExceeded, WorkerLostError
from celery.signals import task_failure, worker_ready

import worker.dropped_jobs  # noqa: F401  (ends the jobs whose messages Celery drops)
from shared.celery_app import create_celery_app
from shared.jobs import Queue, TaskName
from shared.logging_setup import configure_logging, keep_celery_from_reconfiguring
from worker.heartbeat import start_heartbeat
from worker.metrics import serve_metrics
from worker.progress_bars import silence_library_progress_bars
from worker.revoked_jobs import start_revoke_watch
from worker.runtime import WorkerRuntime, get_runtime
from worker.stopping_jobs import stop_running_jobs_on_shutdown
from worker.tasks.training import LOST_MESSAGE, end_lost_finetune  # (importing it registers the tasks)

configure_logging()
keep_celery_from_reconfiguring()
silence_library_progress_bars()
logger = logging.getLogger(__name__)

app = create_celery_app(role=Queue.TRAINING)


@task_failure.connect
def _child_lost(sender: Any, task_id: str, exception: BaseException, **_: Any) -> None:
    if getattr(sender, "name", None) != TaskName.FINETUNE.value:
        return
    if isinstance(exception, WorkerLostError):
        error = {"type": "WorkerLost", "message": LOST_MESSAGE}
    elif isinstance(exception, TimeLimitExceeded):  # the hard backstop past TRAINING_TIME_LIMIT
        error = {"type": "TrainingTimeLimitError", "message": f"{exception}; no model version was published"}
    else:
        return
    runtime = get_runtime()
    end_lost_finetune(runtime.job_store, task_id, error)
    _remove_abandoned_partials(runtime)


def _remove_abandoned_partials(runtime: WorkerRuntime) -> None:
    for staging in runtime.model_store.remove_abandoned_partials():
        logger.warning("removed %s, left by a training run that was killed mid-write", staging)


@worker_ready.connect
def _fail_orphans_then_announce(sender: Any, **_: Any) -> None:
    runtime = get_runtime()
    store = runtime.job_store
    stop_running_jobs_on_shutdown(store, sender.hostname)  # first: what follows may fail on Redis
    _remove_abandoned_partials(runtime)
    for record in store.orphaned_jobs(sender.hostname, Queue.TRAINING):
        logger.warning("job %s was running on %s, which is gone: ending it", record.job_id, record.worker)
        end_lost_finetune(store, record.job_id, {"type": "WorkerLost", "message": LOST_MESSAGE})
    settings = get_runtime().settings
    serve_metrics(settings.training_metrics_port, settings.metrics_host)
    start_heartbeat(Queue.TRAINING, sender.hostname)
    start_revoke_watch(store)
