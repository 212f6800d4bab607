"""Server-Sent Events for one job: what it did so far, then what it does live.

Each event of the job's Redis stream becomes one SSE message (``id`` is the stream entry id, so
a client that reconnects with ``Last-Event-ID`` resumes where it left off). Tokens arrive as
``token`` events, training steps as ``progress``; the stream ends with a ``final`` event whose data
is the whole job (result or error included). A client that reconnects after that event gets
``204 No Content``, which tells ``EventSource`` to stop reconnecting.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from shared.job_store import AsyncJobStore, JobRecord
from shared.schemas import JobView

KEEP_ALIVE_MS = 4_000  # a comment line this often keeps proxies from closing an idle stream


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
    last = after
    while True:
        events = await store.read_events(job_id, last, block_ms=KEEP_ALIVE_MS)
        if not events:
            record = await store.get(job_id)
            if record is None:
                return
            if not record.status.is_final:
                yield ": keep-alive\n\n"
                continue
            # it ended after the read gave up: its last events and "final" may have landed since
            events = await store.read_events(job_id, last, None)
            if not events:
                yield sse_message("final", job_view(record))
                return
        for entry_id, event in events:
            last = entry_id
            if event.get("type") == "final":
                record = await store.get(job_id)
                yield sse_message("final", job_view(record) if record else event, entry_id)
                return
            yield sse_message(str(event.get("type", "message")), event, entry_id)
