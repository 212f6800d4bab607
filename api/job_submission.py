"""Enqueue a job: write its record, honour the Idempotency-Key, publish the Celery task.

Shared by ``POST /jobs`` and the synchronous endpoints, which are jobs the client waits for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import uuid
from functools import partial
from typing import Any

import anyio
from celery import Celery

from api.errors import IdempotencyConflictError, QueueFullError, ServiceUnavailableError
from api.model_readiness import require_model_ready
from shared.config import Settings
from shared.job_metrics import seconds_between
from shared.job_store import Admission, AsyncJobStore, JobRecord, now_iso
from shared.jobs import JOB_ROUTES, JobStatus, JobType

logger = logging.getLogger(__name__)

# The most messages a queue's broker list may hold, as a multiple of MAX_QUEUED_JOBS.
BROKER_LIST_FACTOR = 10
# A job recorded this long ago and still not published never will be by the request that recorded
# it (publishing takes milliseconds): a retry with its Idempotency-Key publishes it.
PUBLISH_GRACE_S = 10
# How long a retry with a job's Idempotency-Key waits for the request that made the job to publish
# it (then 409): answered at once, it could name a job whose publish then failed and was withdrawn.
PUBLISH_WAIT_S = 2


def _fingerprint(job_type: JobType, job_input: dict[str, Any]) -> str:
    canonical = json.dumps({"type": job_type.value, "input": job_input}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def submit_job(
    store: AsyncJobStore,
    celery: Celery,
    job_type: JobType,
    job_input: dict[str, Any],
    *,
    owner: str,
    settings: Settings,
    idempotency_key: str | None = None,
) -> JobRecord:
    """Return the new job's record, or the existing one for a repeated Idempotency-Key (even
    where a new job would be refused now: a full queue, a model being replaced)."""
    fingerprint = _fingerprint(job_type, job_input)
    if idempotency_key:
        bound = await store.idempotency_binding(owner, idempotency_key)
        if bound is not None:
            existing = await _job_bound_to(store, bound, fingerprint)
            if existing is not None:
                existing = await _once_published(store, celery, existing, settings, idempotency_key)
            if existing is not None:
                return existing
            # its job's record has expired (the key may outlive it: it is kept as long as the job
            # could have waited in the queue), or the request that made it withdrew it: the key is
            # free again, and this request runs anew
            await store.release_idempotency_key(owner, idempotency_key, bound.partition(":")[0])
    require_model_ready(settings.model_dir, job_type, job_input)
    _, queue = JOB_ROUTES[job_type]
    record = JobRecord(
        job_id=uuid.uuid4().hex,
        type=job_type,
        status=JobStatus.QUEUED,
        queue=queue,
        input=job_input,
        created_at=now_iso(),
        owner=owner,
    )
    await _admit(store, record, settings)
    try:
        await store.create(record)
    except Exception:
        with contextlib.suppress(Exception):
            await store.release_queued(record)
        raise
    if idempotency_key:
        # Another request with the same key may have bound it since the look-up above.
        try:
            bound = await store.claim_idempotency_key(owner, idempotency_key, record.job_id, fingerprint)
        except Exception:
            await _forget(store, record, idempotency_key)
            raise
        if bound is not None:
            await store.delete(record)
            existing = await _job_bound_to(store, bound, fingerprint)
            if existing is not None:
                existing = await _once_published(store, celery, existing, settings, idempotency_key)
            if existing is None:
                raise IdempotencyConflictError(
                    "this Idempotency-Key belongs to a job that has expired or was withdrawn; retry",
                    headers={"Retry-After": "1"},
                )
            return existing
    try:
        await _publish(store, celery, record, settings, idempotency_key)
    except ServiceUnavailableError:
        await _forget(store, record, idempotency_key)
        raise
    return record


async def _once_published(
    store: AsyncJobStore, celery: Celery, record: JobRecord, settings: Settings, idempotency_key: str
) -> JobRecord | None:
    """The job another request with the same Idempotency-Key made, once its task is published:
    published here where that request died before publishing it; waited for (PUBLISH_WAIT_S at
    most, then 409) while that request is still publishing it. None where that request's publish
    failed and it withdrew the job: the answer would have named a job that no longer exists."""
    deadline = time.monotonic() + PUBLISH_WAIT_S
    current: JobRecord | None = record
    while current is not None and current.status is JobStatus.QUEUED and current.unpublished:
        if _stranded(current):
            await _publish(store, celery, current, settings, idempotency_key)
            return current
        if time.monotonic() > deadline:
            raise IdempotencyConflictError(
                "another request with this Idempotency-Key is still submitting its job; retry shortly",
                headers={"Retry-After": "1"},
            )
        await anyio.sleep(0.05)
        current = await store.get(current.job_id)
    return current


def _stranded(record: JobRecord) -> bool:
    """Whether a job's record was written but its task never published: the API process died
    between the two, or Redis failed during both the publish and the clean-up after it."""
    if record.status is not JobStatus.QUEUED or not record.unpublished:
        return False
    age = seconds_between(record.created_at, now_iso())
    return age is not None and age > PUBLISH_GRACE_S


async def _publish(
    store: AsyncJobStore, celery: Celery, record: JobRecord, settings: Settings, idempotency_key: str | None
) -> None:
    """Publish the job's task (503 when the broker refuses it), then keep its record and
    Idempotency-Key while it may wait in the queue. Publishing a job twice runs it once: the task
    id is the job's, and a worker drops a copy of a job that has started (worker/job_task.py)."""
    task_name, queue = JOB_ROUTES[record.type]
    publish = partial(
        celery.send_task,
        task_name.value,
        args=[record.job_id, record.input],
        task_id=record.job_id,
        queue=queue.value,
        # A worker that takes it later discards it, and the job fails (worker/dropped_jobs.py).
        expires=settings.max_queue_wait,
        # The job's record holds its result. Without this the publish first subscribed the API to
        # Celery's result channel of the task, over a connection with no read timeout: a stalled
        # Redis held the request (and its wait slot and thread) as long as the stall lasted.
        ignore_result=True,
    )
    try:
        await anyio.to_thread.run_sync(publish)
    except Exception as error:
        logger.warning("job %s: could not publish its task: %s", record.job_id, error)
        raise ServiceUnavailableError(
            "could not enqueue the job: the job queue (Redis) is unavailable; try again shortly",
            headers={"Retry-After": "5"},
        ) from error
    try:
        idempotency = (record.owner, idempotency_key) if idempotency_key else None
        await store.keep_while_queued(record, settings.max_queue_wait, idempotency)
    except Exception:
        # The job is published and will run: answering an error would have the client submit it
        # twice. Its record then expires RESULT_TTL after creation if it is still queued by then.
        logger.warning("job %s: could not keep its record while it is queued", record.job_id, exc_info=True)


async def _admit(store: AsyncJobStore, record: JobRecord, settings: Settings) -> None:
    """Count the job among those waiting in its queue, or refuse it with 429: past MAX_QUEUED_JOBS
    in the queue, or MAX_QUEUED_JOBS_PER_KEY of its key's own (clients without API keys share one
    owner: MAX_QUEUED_JOBS alone bounds them)."""
    queue = record.queue.value
    # a backstop to the broker's memory: messages of cancelled jobs wait in its list for a worker
    # (none takes any while the training worker runs an hours-long fine-tune)
    backstop = BROKER_LIST_FACTOR * settings.max_queued_jobs
    if await store.broker_messages(record.queue) >= backstop:
        raise QueueFullError(
            f"the {queue} queue's broker list holds {backstop} messages or more (jobs cancelled while"
            " queued among them, until a worker drops them); retry later",
            headers={"Retry-After": "5"},
        )
    admission = await store.admit_queued(
        record,
        most_in_queue=settings.max_queued_jobs,
        most_of_owner=settings.max_queued_jobs_per_key if record.owner else 0,
        queue_wait=settings.max_queue_wait,
    )
    if admission is Admission.QUEUE_FULL:
        message = f"the {queue} queue holds {settings.max_queued_jobs} jobs or more; retry later"
    elif admission is Admission.OWNER_FULL:
        message = (
            f"this API key has {settings.max_queued_jobs_per_key} jobs waiting in the {queue} queue"
            " (MAX_QUEUED_JOBS_PER_KEY; a job cancelled while queued counts until a worker drops its"
            " message); retry once some have started"
        )
    else:
        return
    raise QueueFullError(message, headers={"Retry-After": "5"})


async def _job_bound_to(store: AsyncJobStore, bound: str, fingerprint: str) -> JobRecord | None:
    """The job an Idempotency-Key is bound to (``job_id:fingerprint``), if this request is the
    one that bound it; None when that job's record has expired."""
    existing_id, _, existing_fingerprint = bound.partition(":")
    existing = await store.get(existing_id)
    if existing is not None and existing_fingerprint != fingerprint:
        raise IdempotencyConflictError("this Idempotency-Key was already used with a different request")
    return existing


async def _forget(store: AsyncJobStore, record: JobRecord, idempotency_key: str | None) -> None:
    """A job that was never published must not linger as 'queued' forever, nor keep its
    Idempotency-Key: a retry with the same key must enqueue the job anew."""
    # Redis itself may be what failed; the record and the key then expire after RESULT_TTL.
    with contextlib.suppress(Exception):
        if idempotency_key:
            await store.release_idempotency_key(record.owner, idempotency_key, record.job_id)
        await store.delete(record)
