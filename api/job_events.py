"""Server-Sent Events for one job: what it did so far, then what it does live.

Each event of the job's Redis stream becomes one SSE message (``id`` is the stream entry id, so
a client that reconnects with ``Last-Event-ID`` resumes where it left off). Tokens arrive as
``token`` events, training steps as ``progress``; the stream ends with a ``final`` event whose data
is the whole job (result or error included). A client that reconnects after that event gets
``204 No Content``, which tells ``EventSource`` to stop reconnecting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis

from shared.job_store import AsyncJobStore, JobRecord
from shared.log_throttle import ThrottledLog
from shared.schemas import JobView

logger = logging.getLogger(__name__)
# one line each 30 s while Redis is down, not one for every open stream at every retry
_waiting_for_redis_log = ThrottledLog(logger, logging.INFO)

KEEP_ALIVE_MS = 4_000  # a comment line this often keeps proxies from closing an idle stream
REDIS_OUTAGE_S = 60.0  # as long as the workers ride one out
REDIS_RETRY_S = 1.0


def job_view(record: JobRecord) -> dict[str, Any]:
    """The job as ``GET /jobs/{job_id}`` shows it, to the character."""
    return JobView.model_validate(record.view()).model_dump(mode="json")


def sse_message(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    lines = [f"id: {event_id}"] if event_id else []
    lines += [f"event: {event}", f"data: {json.dumps(data, default=str)}"]
    return "\n".join(lines) + "\n\n"


async def ended_before(store: AsyncJobStore, job_id: str, after: str) -> bool:
    """Whether the job has ended and its stream holds nothing after the event id ``after``: a
    client that reconnects with the final event's id has seen all of it."""
    record = await store.get(job_id)
    return record is not None and record.status.is_final and not await store.read_events(job_id, after, None)


async def job_event_stream(store: AsyncJobStore, job_id: str, after: str = "0-0") -> AsyncIterator[str]:
    """The job's events after ``after``, then live ones until ``final``. A Redis that restarts or
    stalls mid-stream is ridden out for REDIS_OUTAGE_S, keep-alives going on, and the stream
    resumes after the last event sent: cut off, it ended without its final event, and a client
    that reconnected while Redis was still down got a 503, after which ``EventSource`` gives up."""
    last, outage_since = after, None
    while True:
        try:
            messages, last, ended = await _next_messages(store, job_id, last)
        except redis.RedisError as error:
            outage_since = outage_since or time.monotonic()
            if time.monotonic() - outage_since > REDIS_OUTAGE_S:
                logger.warning(
                    "job %s: events stream closed, Redis unavailable for %.0f s", job_id, REDIS_OUTAGE_S
                )
                return  # the client reconnects with Last-Event-ID
            _waiting_for_redis_log.log("job %s: events stream waits for Redis: %r", job_id, error)
            yield ": waiting for Redis\n\n"
            await asyncio.sleep(REDIS_RETRY_S)
            continue
        outage_since = None
        for message in messages:
            yield message
        if ended:
            return


async def _next_messages(store: AsyncJobStore, job_id: str, last: str) -> tuple[list[str], str, bool]:
    """The messages of the events after ``last`` (a keep-alive when none came within
    KEEP_ALIVE_MS), the id they reach, and whether the stream ends with them. Nothing is sent
    from a read that fails part-way: it is read again from ``last``."""
    events = await store.read_events(job_id, last, block_ms=KEEP_ALIVE_MS)
    if not events:
        record = await store.get(job_id)
        if record is None:
            return [], last, True
        if not record.status.is_final:
            return [": keep-alive\n\n"], last, False
        # it ended after the read gave up: its last events and "final" may have landed since
        events = await store.read_events(job_id, last, None)
        if not events:
            return [sse_message("final", job_view(record))], last, True
    messages = []
    for entry_id, event in events:
        last = entry_id
        if event.get("type") == "final":
            record = await store.get(job_id)
            messages.append(sse_message("final", job_view(record) if record else event, entry_id))
            return messages, last, True
        messages.append(sse_message(str(event.get("type", "message")), event, entry_id))
    return messages, last, False
