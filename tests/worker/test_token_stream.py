"""Streamed tokens are written to Redis by a thread of their own, not by the batch that makes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from launcher.ports import free_port
from shared.job_store import JobStore, events_key
from shared.model_registry import ModelName
from tests.shared.test_job_store import AsyncStoreRunner, make_record
from worker.runtime import WorkerRuntime
from worker.token_stream import TokenStreamError, TokenStreamWriter


def running_job(redis_url: str, store: JobStore) -> str:
    record = make_record()
    AsyncStoreRunner(redis_url).create(record)
    assert store.start(record.job_id, worker="inference@test") is not None
    return record.job_id


def streamed_text(store: JobStore, job_id: str) -> tuple[str, int]:
    """The job's token events, joined, and how many there are."""
    events = [json.loads(values["event"]) for _, values in store.client.xrange(events_key(job_id))]
    tokens = [event["text"] for event in events if event["type"] == "token"]
    return "".join(tokens), len(tokens)


def test_every_token_is_in_the_stream_in_order_once_flush_returns(redis_url: str) -> None:
    store = JobStore.from_url(redis_url, ttl=600)
    writer = TokenStreamWriter(store)
    first, second = running_job(redis_url, store), running_job(redis_url, store)
    send_first, send_second = writer.sender(first), writer.sender(second)
    with writes_held(redis_url):  # the tokens gather behind the first write
        for number in range(300):  # two rows of one batch, step by step
            send_first(f" a{number}")
            send_second(f" b{number}")
    writer.flush(first, timeout=30)
    writer.flush(second, timeout=30)
    for job_id, letter in ((first, "a"), (second, "b")):
        text, events = streamed_text(store, job_id)
        assert text == "".join(f" {letter}{number}" for number in range(300))
        assert 1 <= events <= 2  # what gathered went as one event, not 300


def test_a_token_sent_after_the_flush_is_not_written(redis_url: str) -> None:
    """A row stopped by a cancel may make one more token after its task has ended."""
    store = JobStore.from_url(redis_url, ttl=600)
    writer = TokenStreamWriter(store)
    job_id, later_job = running_job(redis_url, store), running_job(redis_url, store)
    send = writer.sender(job_id)
    send(" kept")
    writer.flush(job_id, timeout=30)
    send(" late")
    writer.sender(later_job)(" next")
    writer.flush(later_job, timeout=30)  # the writer takes tokens in order: " late" came before
    assert streamed_text(store, job_id) == (" kept", 1)
    assert streamed_text(store, later_job) == (" next", 1)


@contextmanager
def writes_held(redis_url: str) -> Iterator[None]:
    """Redis holds every client's writes for the block (reads are still answered)."""
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    admin.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
    try:
        yield
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")


def test_a_token_redis_did_not_take_fails_the_flush() -> None:
    nowhere = JobStore.from_url(f"redis://127.0.0.1:{free_port()}/0", ttl=600, outage_seconds=0)
    writer = TokenStreamWriter(nowhere)
    send = writer.sender("job-1")
    send(" lost")
    with pytest.raises(TokenStreamError, match="could not all be written"):
        writer.flush("job-1", timeout=30)


def test_a_redis_that_holds_writes_does_not_hold_up_the_batch(
    runtime_with_tiny_llm: WorkerRuntime, redis_url: str
) -> None:
    """Each token was written by the batcher's thread: a Redis that stalled (or restarted) held up
    the whole batch, rows that stream nothing included, for as long as it did."""
    runtime, store = runtime_with_tiny_llm, runtime_with_tiny_llm.job_store
    job_id = running_job(redis_url, store)
    with writes_held(redis_url):
        output = runtime.predict(
            ModelName.LLM,
            {"start_word": "The", "length": 8, "top_k": 1},
            runtime.token_streams.sender(job_id),
        )
        assert streamed_text(store, job_id) == ("", 0)  # generated, answered, not yet written
    runtime.token_streams.flush(job_id, timeout=30)
    assert output["generated_tokens"] > 0
    assert "The" + streamed_text(store, job_id)[0] == output["generated_text"]
