"""Celery base task that keeps the platform's job record in step with the task.

Before the task body runs the job is moved to ``running`` (atomically, so a job cancelled while
queued never runs); afterwards it is moved to its final state with the result or the error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Ignore

from shared.client_errors import ClientFacingError
from shared.job_store import JobRecord, JobStore
from shared.jobs import JobStatus
from worker.heartbeat import INTERVAL_SECONDS, TTL_SECONDS
from worker.job_errors import job_error
from worker.runtime import JobCancelledError, get_runtime

logger = logging.getLogger(__name__)


# The end of a job whose user cancelled it while it ran, and whose worker was lost before it stopped.
LOST_WHILE_CANCELLED = {
    "type": "Cancelled",
    "message": "cancelled while running; its worker was lost before it stopped",
}


def lost_run_end(cancel_requested: bool, error: dict[str, Any]) -> tuple[JobStatus, dict[str, Any]]:
    """The status and error of a run lost with its worker and not run again: cancelled where its
    user asked for that before, else failed with ``error``."""
    return (JobStatus.CANCELLED, LOST_WHILE_CANCELLED) if cancel_requested else (JobStatus.FAILED, error)


def end_lost_run(store: JobStore, job_id: str, error: dict[str, Any]) -> None:
    """Record the end of a run that was lost and is not run again (``lost_run_end``)."""
    status, error = lost_run_end(store.cancel_requested(job_id), error)
    store.finish(job_id, status, error=error)


# A copy of the message of a job another worker runs is delivered again this long after, doubling
# up to the task's copy_defer_max_s (a fine-tune may run for hours)
COPY_DEFER_S = TTL_SECONDS + INTERVAL_SECONDS

# The jobs this process is running (a threads pool runs many at once).
_running_here: set[str] = set()
_running_here_lock = threading.Lock()


# How often a worker that got a copy of a running job's message reads the other one's heartbeat
BEAT_POLL_S = 0.25


def runs_elsewhere(
    store: JobStore,
    record: JobRecord,
    hostname: str,
    *,
    wait: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Whether another worker than ``hostname`` runs the job now: a beat of its heartbeat newer than
    the one there when asked lists the job. The beat already there proves less: a SIGKILLed
    worker's last one lives TTL_SECONDS on, and a job started since it is not listed yet. So this
    waits for the next beat (every INTERVAL_SECONDS), or for the key to expire (a dead worker);
    ``wait=False`` (where no thread may wait: the consumer's event loop) decides on the beat there.
    A process started anew under the worker's hostname lists none of its predecessor's jobs."""
    worker = record.worker
    if worker is None or worker == hostname or (first := store.worker_beat(record.queue, worker)) is None:
        return False
    if not wait or "beat_id" not in first:  # a worker of an earlier release lists no jobs: alive is all
        return record.job_id in first.get("running_jobs", (record.job_id,))
    deadline = time.monotonic() + TTL_SECONDS + INTERVAL_SECONDS
    while time.monotonic() < deadline:
        sleep(BEAT_POLL_S)
        beat = store.worker_beat(record.queue, worker)
        if beat is None:
            return False
        if beat.get("beat_id") != first.get("beat_id"):
            return record.job_id in beat.get("running_jobs", ())
    return False


def runs_here(job_id: str) -> bool:
    """Whether this process runs the job now (a threads pool runs its tasks in this process)."""
    with _running_here_lock:
        return job_id in _running_here


class JobTask(Task):
    abstract = True
    # A copy of a running job's message is deferred for as long as that run goes on (a fine-tune:
    # hours): Celery's default of 3 retries dropped it after a few minutes.
    max_retries: int | None = None
    # The client's or the operator's errors, each said in the job's error: Celery logs them in one
    # INFO line, not as an ERROR with a traceback (an overloaded worker timing out every job filled
    # its log with tracebacks, and raised alerts on errors that are none of the platform's).
    throws = (ClientFacingError,)
    # An inference job delivered again after its worker died runs again; a training job, which
    # may have run for hours and may publish a version, is marked failed instead.
    run_again_when_redelivered = True
    lost_message = "the worker running this job was lost mid-run"
    lost_mid_stream_message = (
        "the worker generating this job was lost after it had streamed tokens, which cannot be taken"
        " back: it is not run again (a second run would stream them twice); submit it anew"
    )

    def __call__(self, job_id: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        with _running_here_lock:
            if job_id in _running_here:
                # the broker connection dropped and kombu put the unacknowledged message back, and
                # this worker took it again while its first run goes on
                logger.warning("job %s delivered again while this process runs it: copy dropped", job_id)
                return None
            _running_here.add(job_id)
        try:
            return self._run_once(job_id, payload)
        finally:
            with _running_here_lock:
                _running_here.discard(job_id)

    def _run_once(self, job_id: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        store = get_runtime().job_store
        record = store.get(job_id)
        # a job already running is one the broker delivers again
        running = record if record is not None and record.status is JobStatus.RUNNING else None
        if running is not None and not self._run_again(store, running, payload):
            return None
        if store.start(job_id, worker=self._hostname()) is None:
            logger.info("job %s is cancelled, finished or expired: not running it", job_id)
            if record is not None:
                store.message_dropped(record)
            self._end_as_revoked()
        if record is not None and record.input != payload:
            # what the API checked is the record: a message sent by other means (Flower's task
            # API) with a queued job's id runs that job's input, not its own
            logger.warning(
                "job %s: the message's payload is not the job's recorded input; running the record's", job_id
            )
            payload = record.input
        try:
            result = self.run(job_id, payload)
        except JobCancelledError as cancelled:
            store.finish(job_id, JobStatus.CANCELLED, error={"type": "Cancelled", "message": str(cancelled)})
            logger.info("job %s cancelled: %s", job_id, cancelled)
            self._end_as_revoked()
        except Exception as error:
            store.finish(job_id, JobStatus.FAILED, error=job_error(error, job_id))
            raise
        if store.finish(job_id, JobStatus.SUCCEEDED, result=result) is JobStatus.CANCELLED:
            self._end_as_revoked()  # a cancel that landed as it ended: its result is dropped
        return result

    def _end_as_revoked(self) -> NoReturn:
        """End a task whose job was cancelled: Flower shows it REVOKED, where returning had it
        SUCCESS (and Celery's log "succeeded"). Ignore: no state or event of Celery's own after."""
        try:
            self.send_event("task-revoked", terminated=False, signum=None, expired=False)
        except Exception:  # Redis unreachable: the job is cancelled all the same, Flower lags
            logger.warning("could not tell Flower that the job was cancelled", exc_info=True)
        raise Ignore()

    def end_lost_run(self, store: JobStore, job_id: str, error: dict[str, Any]) -> None:
        end_lost_run(store, job_id, error)

    def _hostname(self) -> str:
        return self.request.hostname or "unknown"

    def copy_defer_max_s(self) -> float:
        """The longest a deferred copy waits: under the queue's visibility timeout, past which Redis
        would hand the message, held unacknowledged until then, to another worker as well."""
        return get_runtime().settings.inference_visibility_timeout - INTERVAL_SECONDS

    def _runs_elsewhere(self, store: JobStore, record: JobRecord) -> bool:
        return runs_elsewhere(store, record, self._hostname())

    def _run_again(self, store: JobStore, record: JobRecord, payload: dict[str, Any]) -> bool:
        """A job already running is delivered again: whether to run it again now. Not when another
        worker, alive, runs it (a message published twice: a publish retried after Redis applied it
        but its reply was lost), nor, failing it, when its run was lost and cannot be repeated."""
        job_id = record.job_id
        if self._runs_elsewhere(store, record):
            # Deferred, not dropped: the copy may be the job's last message (its worker, stopping,
            # put it back while its run went on), and that run may yet be lost with its worker.
            # Delivered again later, it finds the job ended, or its worker gone and runs it then.
            countdown = min(COPY_DEFER_S * 2**self.request.retries, self.copy_defer_max_s())
            logger.warning(
                "job %s delivered again while %s runs it: looked at again in %d s",
                job_id,
                record.worker,
                countdown,
            )
            raise self.retry(countdown=countdown, ignore_result=True)
        # one its user cancelled while it ran ends so, not run again
        if record.cancel_requested or not self.run_again_when_redelivered:
            logger.warning("job %s was delivered again after its run was lost: ending it", job_id)
            self.end_lost_run(store, job_id, {"type": "WorkerLost", "message": self.lost_message})
            return False
        if payload.get("stream") and store.streamed_tokens(job_id):
            logger.warning("job %s delivered again after it had streamed tokens: marking it failed", job_id)
            error = {"type": "WorkerLost", "message": self.lost_mid_stream_message}
            store.finish(job_id, JobStatus.FAILED, error=error)
            return False
        return True
