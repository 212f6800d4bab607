"""Run a job and wait for it: the synchronous endpoints are jobs the client waits for.

The wait blocks no thread (it reads the job's event stream in Redis); past SYNC_TIMEOUT the
endpoint answers 202 with the job id and a Location header, and the job goes on; so it does
when Redis fails during the wait, once the job is queued.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import redis
from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from api.client_presence import unless_client_leaves
from api.deps import CeleryDep, JobStoreDep, OwnerDep, SettingsDep, WaitSlotsDep
from api.errors import (
    InvalidRequestError,
    JobConflictError,
    JobFailedError,
    JobTimedOutError,
    ServiceUnavailableError,
    documented,
)
from api.job_submission import submit_job
from api.model_readiness import RETRY_AFTER_SECONDS
from shared.jobs import JobStatus, JobType
from shared.schemas import JobAccepted

logger = logging.getLogger(__name__)

SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobAccepted,
        "description": "Still running after SYNC_TIMEOUT, or queued when Redis failed during the wait:"
        " poll the job's url",
    },
    **documented(409, 500, 503, 504),
}

# Failures that a retry a little later may not meet: 503 with Retry-After, not 500. A model with no
# version yet or one that failed to load (tried again every minute), a worker out of memory or lost
# mid-job, a job that waited in the queue past MAX_QUEUE_WAIT.
_RETRY_LATER_ERRORS = {
    "ModelNotReadyError",
    "ModelLoadError",
    "OutOfMemory",
    "WorkerLost",
    "QueueWaitExpired",
}
_TIMED_OUT_ERRORS = {"InferenceTimeLimitError"}
_INVALID_INPUT_ERRORS = {"InputOutgrowsContextError"}  # input only the loaded model can judge


class SyncJobs:
    def __init__(
        self,
        request: Request,
        store: JobStoreDep,
        celery: CeleryDep,
        settings: SettingsDep,
        owner: OwnerDep,
        slots: WaitSlotsDep,
    ) -> None:
        self.request = request
        self.store = store
        self.celery = celery
        self.settings = settings
        self.owner = owner
        self.slots = slots

    async def run(self, job_type: JobType, job_input: dict[str, Any]) -> dict[str, Any] | JSONResponse:
        """The job's result, or a 202 response when it outlasts SYNC_TIMEOUT."""
        with self.slots.held(self.owner):  # taken first: no job is queued that no one waits for
            record = await submit_job(
                self.store,
                self.celery,
                job_type,
                job_input,
                owner=self.owner,
                settings=self.settings,
            )
            waiting = self.store.wait_for_final(record.job_id, self.settings.sync_timeout)
            try:
                final = await unless_client_leaves(self.request, waiting)
                if final is None:  # the client left, or the server stops: 202, the job as it stands
                    final = await self.store.get(record.job_id) or record
            except redis.RedisError as error:
                # the job is queued and runs: a 503 would lose its id, and the client's retry would
                # run it twice; the 202 gives the id to poll once Redis answers again
                logger.warning("job %s queued, but waiting for it failed: %r", record.job_id, error)
                final = record
        if final.status is JobStatus.SUCCEEDED and final.result is not None:
            return final.result
        if final.status is JobStatus.CANCELLED:
            raise JobConflictError(
                f"job {final.job_id} was cancelled (DELETE /jobs/{final.job_id}) before it finished"
            )
        if final.status.is_final:
            error = final.error or {"type": "Unknown", "message": "no error recorded"}
            message = f"job {final.job_id} {final.status.value}: {error.get('message')}"
            if error.get("type") in _RETRY_LATER_ERRORS:
                raise ServiceUnavailableError(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            if error.get("type") in _TIMED_OUT_ERRORS:
                raise JobTimedOutError(message)
            if error.get("type") in _INVALID_INPUT_ERRORS:
                raise InvalidRequestError(message, loc=("body",))
            raise JobFailedError(message)
        url = str(self.request.url_for("get_job", job_id=final.job_id))
        body = JobAccepted(job_id=final.job_id, status=final.status, url=url)
        return JSONResponse(body.model_dump(mode="json"), status_code=202, headers={"Location": url})


SyncJobsDep = Annotated[SyncJobs, Depends(SyncJobs)]
