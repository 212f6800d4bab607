"""The event stream of one job, against a real redis-server."""

from __future__ import annotations

import asyncio
import json

from api.job_events import job_event_stream
from shared.job_store import AsyncJobStore, JobStore
from shared.jobs import JobStatus
from tests.shared.test_job_store import make_record


def test_events_that_land_while_a_read_gives_up_are_sent_before_final(redis_url: str) -> None:
    """The stream saw an empty read, then the job ended: it sent "final" from the record and
    skipped the last token, which had landed in between."""
    worker_store = JobStore.from_url(redis_url, ttl=600)

    async def stream() -> list[str]:
        store = AsyncJobStore.from_url(redis_url, ttl=600)
        record = make_record()
        await store.create(record)
        worker_store.start(record.job_id, worker="w1")
        read_events, reads = store.read_events, []

        async def the_job_ends_as_the_second_read_gives_up(job_id: str, after: str, block_ms: int | None):
            reads.append(block_ms)
            if len(reads) == 2:
                worker_store.add_event(job_id, {"type": "token", "text": " LAST"})
                worker_store.finish(job_id, JobStatus.SUCCEEDED, result={"generated_text": "a LAST"})
                return []
            return await read_events(job_id, after, block_ms)

        store.read_events = the_job_ends_as_the_second_read_gives_up  # type: ignore[method-assign]
        try:
            return [message async for message in job_event_stream(store, record.job_id)]
        finally:
            await store.close()

    messages = asyncio.run(stream())
    names = [
        line.removeprefix("event: ")
        for m in messages
        for line in m.splitlines()
        if line.startswith("event: ")
    ]
    assert names == ["status", "status", "token", "final"]
    token = next(m for m in messages if "event: token" in m)
    assert json.loads(token.split("data: ", 1)[1])["text"] == " LAST"
    assert messages[-1].startswith("id: ")  # the final event as recorded, with its id
