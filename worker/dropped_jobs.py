"""End the jobs whose Celery message a worker drops without running it to its end.

A worker discards a message that waited past MAX_QUEUE_WAIT (its ``expires``) or that was revoked
(Flower's revoke, ``celery control revoke``), kills a task revoked with ``terminate``, and refuses
one whose task it does not know (a deploy that renamed it). Without these handlers the job's record
would stay ``queued`` or ``running`` until it expired, and a client waiting on it would wait in vain.
The signals are sent in the worker's main process, which only needs the job store.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_revoked, task_unknown
from celery.worker import state as worker_state

from shared.jobs import JobStatus
from worker.job_task import JobTask, lost_run_end, runs_elsewhere, runs_here
from worker.runtime import get_runtime

logger = logging.getLogger(__name__)


@task_revoked.connect
def _end_revoked_job(request: Any, terminated: bool, expired: bool, **_: Any) -> None:
    job_id = getattr(request, "id", None)
    if not job_id:
        return
    runtime = get_runtime()
    store = runtime.job_store
    record = store.get(job_id)
    if expired and record is not None and record.status is JobStatus.RUNNING:
        # no wait for a new beat: this runs on the consumer's event loop, which would stop
        if runs_here(job_id) or runs_elsewhere(store, record, request.hostname, wait=False):
            # Celery added the expired message's id to the revoked ones: not a revoke of the run
            worker_state.revoked.discard(job_id)
            # a copy of the message of a job that a live worker runs (kombu put an unacknowledged
            # message back after the broker connection dropped): that run goes on
            logger.warning(
                "job %s: expired copy of its message dropped; %s runs it",
                job_id,
                record.worker,
                extra={"job_id": job_id},
            )
            return
        # its worker died mid-run, and its message came back past MAX_QUEUE_WAIT
        status, error = lost_run_end(
            record.cancel_requested, {"type": "WorkerLost", "message": JobTask.lost_message}
        )
    elif expired:
        wait = runtime.settings.max_queue_wait
        status = JobStatus.FAILED
        error = {
            "type": "QueueWaitExpired",
            "message": f"waited in the queue longer than MAX_QUEUE_WAIT ({wait} s): not run; submit it anew",
        }
    elif terminated and runs_here(job_id):
        # the inference worker's thread runs on (no thread can be killed): it stops at its next
        # token, or its result is dropped, as for a DELETE; its task then ends the job
        if store.request_cancel(job_id) is not None:
            logger.info("job %s terminated through Celery: cancelling it", job_id, extra={"job_id": job_id})
        return
    elif terminated:
        status = JobStatus.CANCELLED
        error = {"type": "Cancelled", "message": "terminated through Celery (revoke with terminate)"}
    else:
        status = JobStatus.CANCELLED
        error = {"type": "Cancelled", "message": "revoked through Celery before it ran"}
    if store.end_dropped(job_id, status, error) is not None:
        logger.warning("job %s: %s", job_id, error["message"], extra={"job_id": job_id})
    elif record is not None:
        store.message_dropped(record)  # a job cancelled while queued


@task_unknown.connect
def _fail_unknown_task(name: str, id: str, **_: Any) -> None:
    error = {"type": "UnknownTask", "message": f"no worker of this queue knows the task {name!r}"}
    if get_runtime().job_store.end_dropped(id, JobStatus.FAILED, error) is not None:
        logger.warning("job %s: %s", id, error["message"], extra={"job_id": id})
