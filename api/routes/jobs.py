"""The asynchronous job API: submit, poll (optionally long-poll), list, cancel."""

from __future__ import annotations

import contextlib
import re
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from api.client_presence import unless_client_leaves
from api.deps import CeleryDep, JobStoreDep, OwnerDep, ScanSlotsDep, SettingsDep, WaitSlotsDep
from api.errors import ForbiddenError, InvalidRequestError, JobConflictError, NotFoundError, documented
from api.job_events import ended_before, job_event_stream
from api.job_submission import submit_job
from shared.job_metrics import job_count
from shared.job_pages import CURSOR_PATTERN, ListCursor
from shared.job_store import JobRecord, final_event, now_iso
from shared.jobs import JobStatus, JobType
from shared.schemas import JobAccepted, JobList, JobRequest, JobView

router = APIRouter(prefix="/jobs", tags=["jobs"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="Same key, same job: safe retries"),
]


def job_url(request: Request, job_id: str) -> str:
    return str(request.url_for("get_job", job_id=job_id))


def accepted(request: Request, response: Response, record: JobRecord) -> JobAccepted:
    url = job_url(request, record.job_id)
    response.headers["Location"] = url
    return JobAccepted(job_id=record.job_id, status=record.status, url=url)


# What a job id can be (the API makes them as uuid4 hex); another string names no job. A colon would
# make its Redis key another key of a job ("<id>:events", its event stream).
JOB_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
MAX_STREAM_ID_PART = 2**64 - 1  # each part of a Redis stream id


async def owned_record(store: JobStoreDep, job_id: str, owner: str) -> JobRecord:
    record = await store.get(job_id) if JOB_ID.fullmatch(job_id) else None
    if record is None or record.owner != owner:
        raise NotFoundError(f"no job {job_id!r} (unknown, or expired after RESULT_TTL)")
    return record


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=documented(403, 409)
)
async def create_job(
    request: Request,
    response: Response,
    job: Annotated[JobRequest, Body()],
    store: JobStoreDep,
    celery: CeleryDep,
    owner: OwnerDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    """Enqueue a job and answer at once with its id; poll `GET /jobs/{job_id}` for the result."""
    if job.type == JobType.FINETUNE.value and not getattr(request.state, "may_finetune", True):
        raise ForbiddenError(
            "this API key may not fine-tune: a fine-tune replaces the LLM every key is served, and"
            " FINETUNE_API_KEYS names the keys that may"
        )
    record = await submit_job(
        store,
        celery,
        JobType(job.type),
        job.input.model_dump(),
        owner=owner,
        settings=settings,
        idempotency_key=idempotency_key,
    )
    return accepted(request, response, record)


OFFSET_DOC = "A position in the key's jobs, newest first: a page's next_offset"
CURSOR_DOC = (
    "Where a page stopped: its next_cursor. The next page starts right after it, and skips or"
    " repeats no job when jobs are created or expire between pages (an offset can do either)"
)


@router.get("", response_model=JobList)
async def list_jobs(
    store: JobStoreDep,
    owner: OwnerDep,
    scans: ScanSlotsDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    job_type: Annotated[JobType | None, Query(alias="type")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description=OFFSET_DOC)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=100, pattern=CURSOR_PATTERN, description=CURSOR_DOC)
    ] = None,
) -> JobList:
    """Recent jobs, newest first. A key runs at most two listings with a status filter at once."""
    if cursor is not None and offset:
        raise InvalidRequestError("give an offset or a cursor, not both", ("query", "cursor"))
    after = ListCursor.parse(cursor) if cursor is not None else None
    with scans.held(owner) if status_filter else contextlib.nullcontext():
        page = await store.list(
            status=status_filter, job_type=job_type, owner=owner, limit=limit, offset=offset, after=after
        )
    return JobList(
        jobs=[JobView.model_validate(r.view()) for r in page.records],
        limit=limit,
        offset=offset,
        next_offset=page.next_offset,
        next_cursor=str(page.next_cursor) if page.next_cursor else None,
        older_jobs_not_searched=page.older_unread,
    )


@router.get("/{job_id}", response_model=JobView, name="get_job", responses=documented(404))
async def get_job(
    job_id: str,
    request: Request,
    store: JobStoreDep,
    settings: SettingsDep,
    owner: OwnerDep,
    slots: WaitSlotsDep,
    wait: Annotated[
        float,
        Query(ge=0, le=3600, description="Long-poll: wait up to this many seconds (capped at MAX_WAIT)"),
    ] = 0,
) -> JobView:
    """A job's state, progress and, once finished, its result or error."""
    record = await owned_record(store, job_id, owner)
    if wait > 0 and not record.status.is_final:
        with slots.held(owner):
            waiting = store.wait_for_final(job_id, min(wait, settings.max_wait))
            record = await unless_client_leaves(request, waiting) or await store.get(job_id) or record
    return JobView.model_validate(record.view())


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
        204: {"description": "Last-Event-ID is the job's final event: nothing more will come"},
        **documented(404),
    },
)
async def job_events(
    job_id: str,
    store: JobStoreDep,
    owner: OwnerDep,
    slots: WaitSlotsDep,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", pattern=r"^[0-9]{1,20}-[0-9]{1,20}$")
    ] = None,
) -> Response:
    """Stream the job's events: tokens (`stream: true` llm jobs), training progress, then `final`.

    A client that connects late first gets everything it missed.
    """
    after = "0-0"
    if last_event_id:
        parts = [int(part) for part in last_event_id.split("-")]
        if any(part > MAX_STREAM_ID_PART for part in parts):
            raise InvalidRequestError(
                f"Last-Event-ID {last_event_id!r} is past the largest event id",
                loc=("header", "Last-Event-ID"),
            )
        after = "-".join(str(part) for part in parts)  # without leading zeros, as Redis writes ids
    await owned_record(store, job_id, owner)
    if last_event_id and await ended_before(store, job_id, after):
        return Response(status_code=204)  # EventSource stops reconnecting
    return slots.streaming(
        owner,
        job_event_stream(store, job_id, after=after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.delete(
    "/{job_id}",
    response_model=JobView,
    responses={
        202: {"model": JobView, "description": "Running: it stops at its next step"},
        **documented(404, 409),
    },
)
async def cancel_job(job_id: str, response: Response, store: JobStoreDep, owner: OwnerDep) -> JobView:
    """Cancel a job: a queued job never runs; a running one stops at its next step."""
    record = await owned_record(store, job_id, owner)
    cancelled = await store.transition(
        job_id,
        (JobStatus.QUEUED,),
        JobStatus.CANCELLED,
        event=final_event(JobStatus.CANCELLED),
        count=job_count(record.type, JobStatus.CANCELLED.value),
        finished_at=now_iso(),
        error={"type": "Cancelled", "message": "cancelled before it ran"},
    )
    if cancelled is None:
        if await store.request_cancel(job_id) is None:
            record = await owned_record(store, job_id, owner)
            if record.status is JobStatus.RUNNING and record.committed:
                raise JobConflictError(
                    f"job {job_id} is past its last cancel point (publishing its result) and will finish"
                )
            raise JobConflictError(f"job {job_id} is already {record.status.value}")
        response.status_code = status.HTTP_202_ACCEPTED
    record = await owned_record(store, job_id, owner)
    return JobView.model_validate(record.view())
