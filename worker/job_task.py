"""Celery base task that keeps the platform's job record in step with the task.

Before the task body runs the job is moved to ``running`` (atomically, so a job cancelled while
queued never runs); afterwards it is moved to its final state with the result or the error.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from shared.jobs import JobStatus
from worker.runtime import JobCancelledError, get_runtime

logger = logging.getLogger(__name__)


class JobTask(Task):
    abstract = True
    # An inference job delivered again after its worker died runs again; a training job, which
    # may have run for hours and may publish a version, is marked failed instead.
    run_again_when_redelivered = True
    lost_message = "the worker running this job was lost mid-run"
    lost_mid_stream_message = (
        "the worker generating this job was lost after it had streamed tokens, which cannot be taken"
        " back: it is not run again (a second run would stream them twice); submit it anew"
    )

    def __call__(self, job_id: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        store = get_runtime().job_store
        if not self.run_again_when_redelivered:
            record = store.get(job_id)
            if record is not None and record.status is JobStatus.RUNNING:
                logger.warning("job %s was delivered again after its run was lost: marking it failed", job_id)
                store.finish(
                    job_id, JobStatus.FAILED, error={"type": "WorkerLost", "message": self.lost_message}
                )
                return None
        if self.run_again_when_redelivered and payload.get("stream"):
            record = store.get(job_id)
            if record is not None and record.status is JobStatus.RUNNING and store.streamed_tokens(job_id):
                logger.warning(
                    "job %s was delivered again after it had streamed tokens: marking it failed", job_id
                )
                store.finish(
                    job_id,
                    JobStatus.FAILED,
                    error={"type": "WorkerLost", "message": self.lost_mid_stream_message},
                )
                return None
        if store.start(job_id, worker=self.request.hostname or "unknown") is None:
            logger.info("job %s is cancelled, finished or expired: not running it", job_id)
            return None
        try:
            result = self.run(job_id, payload)
        except JobCancelledError as cancelled:
            store.finish(job_id, JobStatus.CANCELLED, error={"type": "Cancelled", "message": str(cancelled)})
            return None
        except Exception as error:
            store.finish(
                job_id, JobStatus.FAILED, error={"type": type(error).__name__, "message": str(error)}
            )
            raise
        store.finish(job_id, JobStatus.SUCCEEDED, result=result)
        return result
