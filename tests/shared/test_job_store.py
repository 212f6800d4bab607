"""Job records and their state machine, against a real redis-server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from shared import job_store as job_store_module
from shared.job_metrics import COUNTS_KEY
from shared.job_pages import JobPage, ListCursor, PageChunk
from shared.job_store import (
    INDEX_KEY,
    OWNER_INDEXES_FILLED_KEY,
    TRIM_WINDOW,
    Admission,
    AsyncJobStore,
    JobRecord,
    JobStore,
    events_key,
    heartbeat_key,
    idempotency_key,
    index_keys,
    job_key,
    now_iso,
    owner_index_key,
    queued_jobs_keys,
    waiting_jobs_key,
    worker_index_key,
)
from shared.jobs import JobStatus, JobType, Queue
from tests.reply_dropping_proxy import ReplyDroppingProxy


def admitted(
    async_store: AsyncStoreRunner,
    record: JobRecord,
    most_of_owner: int,
    queue_wait: int,
    most_in_queue: int = 10**6,
) -> bool:
    answer = async_store.admit_queued(
        record, most_in_queue=most_in_queue, most_of_owner=most_of_owner, queue_wait=queue_wait
    )
    return answer is Admission.ADMITTED


def make_record(job_type: JobType = JobType.GENERATE, owner: str = "") -> JobRecord:
    return JobRecord(
        job_id=uuid.uuid4().hex,
        type=job_type,
        status=JobStatus.QUEUED,
        queue=Queue.INFERENCE,
        input={"model": "bigram", "start_word": "a", "length": 1},
        created_at=now_iso(),
        owner=owner,
    )


def created_jobs(async_store: AsyncStoreRunner, count: int) -> tuple[str, list[JobRecord]]:
    """A new owner and ``count`` jobs of theirs, oldest first."""
    owner = uuid.uuid4().hex
    records = [make_record(owner=owner) for _ in range(count)]
    for record in records:
        async_store.create(record)
    return owner, records


def page_parts(page: JobPage) -> tuple[list[JobRecord], int | None, bool]:
    return page.records, page.next_offset, page.older_unread


def pages_by_cursor(
    async_store: AsyncStoreRunner, owner: str, limit: int, between: Callable[[int], None] = lambda _: None
) -> list[str]:
    """The job ids of every page, each from the cursor of the one before; ``between(n)`` runs after
    the n-th page."""
    seen: list[str] = []
    cursor: ListCursor | None = None
    for pages in range(1, 100):
        page = async_store.list(status=None, job_type=None, owner=owner, limit=limit, after=cursor)
        seen += [r.job_id for r in page.records]
        if page.next_cursor is None:
            return seen
        cursor = ListCursor.parse(str(page.next_cursor))  # as a client sends it back
        between(pages)
    raise AssertionError("no last page")


@pytest.fixture
def stores(redis_url: str) -> tuple[JobStore, AsyncStoreRunner]:
    return JobStore.from_url(redis_url, ttl=600), AsyncStoreRunner(redis_url)


class AsyncStoreRunner:
    """Runs one AsyncJobStore call in its own event loop (a redis.asyncio pool belongs to one loop)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            async def once():
                store = AsyncJobStore.from_url(self.url, ttl=600)
                try:
                    return await getattr(store, name)(*args, **kwargs)
                finally:
                    await store.close()

            return asyncio.run(once())

        return call


def test_lifecycle_queued_running_succeeded(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    assert sync_store.start(record.job_id, worker="w1") is not None
    sync_store.set_progress(record.job_id, {"step": 1})
    assert (
        sync_store.finish(record.job_id, JobStatus.SUCCEEDED, result={"generated_text": "a b"})
        is JobStatus.SUCCEEDED
    )
    stored = sync_store.get(record.job_id)
    assert stored is not None
    assert stored.status is JobStatus.SUCCEEDED
    assert stored.result == {"generated_text": "a b"}
    assert stored.progress == {"step": 1}
    assert stored.worker == "w1"


def test_a_cancelled_job_cannot_start(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    previous = async_store.transition(record.job_id, (JobStatus.QUEUED,), JobStatus.CANCELLED)
    assert previous is JobStatus.QUEUED
    assert sync_store.start(record.job_id, worker="w1") is None
    assert sync_store.get(record.job_id).status is JobStatus.CANCELLED


def test_a_started_job_cannot_be_cancelled_as_queued(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    sync_store.start(record.job_id, worker="w1")
    assert async_store.transition(record.job_id, (JobStatus.QUEUED,), JobStatus.CANCELLED) is None


def test_cancel_requested_while_running_ends_cancelled(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    sync_store.start(record.job_id, worker="w1")
    assert async_store.request_cancel(record.job_id) is JobStatus.RUNNING
    assert sync_store.cancel_requested(record.job_id)
    assert sync_store.finish(record.job_id, JobStatus.SUCCEEDED, result={"x": 1}) is JobStatus.CANCELLED
    assert sync_store.get(record.job_id).result is None


def test_cancel_that_lands_just_before_the_final_write_is_not_lost(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """The worker has its result and reads the record; the user's cancel arrives before the
    worker's final write. The job must end cancelled, as if the cancel had come a moment earlier."""
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    sync_store.start(record.job_id, worker="w1")
    write = sync_store._transition

    def cancel_then_write(*, keys: list[str], args: list[str]):
        if args[1] == JobStatus.SUCCEEDED.value:
            assert async_store.request_cancel(record.job_id) is JobStatus.RUNNING
        return write(keys=keys, args=args)

    sync_store._transition = cancel_then_write
    assert sync_store.finish(record.job_id, JobStatus.SUCCEEDED, result={"x": 1}) is JobStatus.CANCELLED
    stored = sync_store.get(record.job_id)
    assert (stored.status, stored.result) == (JobStatus.CANCELLED, None)
    assert stored.error["type"] == "Cancelled"


def test_a_committed_job_refuses_cancel_and_finishes(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, async_store = stores
    record = make_record(JobType.FINETUNE)
    async_store.create(record)
    sync_store.start(record.job_id, worker="w1")
    assert sync_store.commit(record.job_id)
    assert async_store.request_cancel(record.job_id) is None
    assert async_store.get(record.job_id).committed
    assert not sync_store.cancel_requested(record.job_id)
    assert sync_store.finish(record.job_id, JobStatus.SUCCEEDED, result={"version": 1}) is JobStatus.SUCCEEDED
    assert sync_store.get(record.job_id).result == {"version": 1}


def test_a_cancel_requested_first_stops_the_commit(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, async_store = stores
    record = make_record(JobType.FINETUNE)
    async_store.create(record)
    sync_store.start(record.job_id, worker="w1")
    assert async_store.request_cancel(record.job_id) is JobStatus.RUNNING
    assert not sync_store.commit(record.job_id)
    assert not async_store.get(record.job_id).committed


def test_a_stopping_worker_asks_its_running_job_to_stop_until_it_commits(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """Its own flag, apart from a cancel: the run ends failed, not cancelled, and a run already
    publishing its version (committed) finishes."""
    sync_store, async_store = stores
    queued, running, committed = (make_record(JobType.FINETUNE) for _ in range(3))
    for record in (queued, running, committed):
        async_store.create(record)
    for record in (running, committed):
        sync_store.start(record.job_id, worker="w1")
    assert sync_store.commit(committed.job_id)
    assert sync_store.request_stop_for_shutdown(queued.job_id) is None
    assert sync_store.request_stop_for_shutdown(committed.job_id) is None
    assert sync_store.request_stop_for_shutdown(running.job_id) is JobStatus.RUNNING
    assert sync_store.stop_requests(running.job_id) == (False, True)
    assert sync_store.stop_requests(committed.job_id) == (False, False)
    assert async_store.request_cancel(running.job_id) is JobStatus.RUNNING
    assert sync_store.stop_requests(running.job_id) == (True, True)


def test_redelivered_running_job_may_start_again(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    assert sync_store.start(record.job_id, worker="w1") is not None
    assert sync_store.start(record.job_id, worker="w2") is not None
    sync_store.finish(record.job_id, JobStatus.SUCCEEDED, result={})
    assert sync_store.start(record.job_id, worker="w3") is None


def test_wait_for_final_returns_when_the_worker_finishes(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, runner = stores
    record = make_record()

    async def scenario() -> JobRecord | None:
        async_store = AsyncJobStore.from_url(runner.url, ttl=600)
        await async_store.create(record)
        sync_store.start(record.job_id, worker="w1")
        waiter = asyncio.create_task(async_store.wait_for_final(record.job_id, timeout=10))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        sync_store.finish(record.job_id, JobStatus.FAILED, error={"type": "Boom", "message": "x"})
        return await asyncio.wait_for(waiter, 5)

    final = asyncio.run(scenario())
    assert final is not None
    assert final.status is JobStatus.FAILED
    assert final.error == {"type": "Boom", "message": "x"}


def test_wait_for_final_gives_up_after_timeout(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    _, async_store = stores
    record = make_record()
    async_store.create(record)
    assert async_store.wait_for_final(record.job_id, timeout=0.3).status is JobStatus.QUEUED


def test_list_is_newest_first_and_scoped_to_owner(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    _, async_store = stores
    owner, records = created_jobs(async_store, 5)
    async_store.create(make_record(owner="someone-else"))
    page, more, _ = page_parts(async_store.list(status=None, job_type=None, owner=owner, limit=3, offset=0))
    assert [r.job_id for r in page] == [r.job_id for r in records[::-1][:3]]
    assert more
    rest, more, _ = page_parts(async_store.list(status=None, job_type=None, owner=owner, limit=3, offset=3))
    assert [r.job_id for r in rest] == [records[1].job_id, records[0].job_id]
    assert not more


def test_pages_past_an_expired_record_repeat_no_job_and_skip_none(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """An index entry whose record has expired was passed over without moving the next page's
    offset: that page then began one job early and repeated it."""
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 6)
    sync_store.client.delete(job_key(records[3].job_id))  # as when its record expires
    seen, offset = [], 0
    while offset is not None:
        page, offset, _ = page_parts(
            async_store.list(status=None, job_type=None, owner=owner, limit=2, offset=offset)
        )
        seen += [r.job_id for r in page]
    assert seen == [r.job_id for r in records[::-1] if r is not records[3]]


def test_cursor_pages_skip_no_job_when_an_expired_entry_is_trimmed_between_them(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """Pages went by position: once an entry the first page had passed over (its record expired)
    was trimmed from the index, every position moved up one and the next page skipped a job."""
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 6)
    expired = records[4]
    sync_store.client.delete(job_key(expired.job_id))

    def trim(_pages: int) -> None:  # as the next job's creation trims the index
        for index in index_keys(expired):
            sync_store.client.zrem(index, expired.job_id)

    expected = [r.job_id for r in records[::-1] if r is not expired]
    assert pages_by_cursor(async_store, owner, limit=2, between=trim) == expected


def test_cursor_pages_repeat_no_job_created_between_them(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    _, async_store = stores
    owner, records = created_jobs(async_store, 5)
    created = [make_record(owner=owner) for _ in range(3)]
    assert pages_by_cursor(
        async_store, owner, limit=2, between=lambda n: async_store.create(created[n - 1])
    ) == [r.job_id for r in records[::-1]]


def test_a_cursor_whose_own_entry_is_gone_starts_right_after_where_it_was(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 5)
    first = async_store.list(status=None, job_type=None, owner=owner, limit=2)
    assert first.next_cursor == ListCursor(
        sync_store.client.zscore(owner_index_key(owner), records[3].job_id), records[3].job_id
    )
    async_store.delete(records[3])
    following = async_store.list(status=None, job_type=None, owner=owner, limit=2, after=first.next_cursor)
    assert [r.job_id for r in following.records] == [records[2].job_id, records[1].job_id]


def test_a_status_filter_stopped_at_its_scan_bound_goes_on_from_its_cursor(
    stores: tuple[JobStore, AsyncStoreRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 6)
    sync_store.start(records[0].job_id, worker="w1")
    monkeypatch.setattr(job_store_module, "LIST_SCAN_MAX", 3)
    first = async_store.list(status=JobStatus.RUNNING, job_type=None, owner=owner, limit=10)
    assert first.records == [] and first.older_unread and first.next_cursor is not None
    assert first.next_cursor.job_id == records[3].job_id  # the third entry looked at
    rest = async_store.list(
        status=JobStatus.RUNNING, job_type=None, owner=owner, limit=10, after=first.next_cursor
    )
    assert [r.job_id for r in rest.records] == [records[0].job_id] and rest.next_cursor is None


def test_a_job_created_between_the_chunks_of_one_listing_is_listed_once(
    stores: tuple[JobStore, AsyncStoreRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page is read in chunks; each starts right after the last entry of the one before, as the
    index then stands, so a job created meanwhile shifts nothing."""
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 7)
    sync_store.start(records[1].job_id, worker="w1")  # the 6th entry, last of the 2nd chunk
    monkeypatch.setattr(job_store_module, "PAGE_CHUNK", 3)
    from_reply = PageChunk.from_reply.__func__  # type: ignore[attr-defined]

    def create_after_the_first(cls: type[PageChunk], reply: list) -> PageChunk:
        monkeypatch.setattr(PageChunk, "from_reply", classmethod(from_reply))
        sync_store.client.zadd(owner_index_key(owner), {"0" * 32: time.time()})  # a newer entry
        return from_reply(cls, reply)

    monkeypatch.setattr(PageChunk, "from_reply", classmethod(create_after_the_first))
    page = async_store.list(status=JobStatus.RUNNING, job_type=None, owner=owner, limit=10)
    assert [r.job_id for r in page.records] == [records[1].job_id]


def test_listing_removes_the_entries_of_expired_records_it_meets(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """Such entries stayed until twice RESULT_TTL had passed and the key created a job, and every
    listing read them again."""
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 4)
    sync_store.client.delete(job_key(records[2].job_id))
    page = async_store.list(status=None, job_type=None, owner=owner, limit=10)
    assert [r.job_id for r in page.records] == [records[3].job_id, records[1].job_id, records[0].job_id]
    assert sync_store.client.zscore(owner_index_key(owner), records[2].job_id) is None
    assert sync_store.client.zscore(owner_index_key(owner), records[1].job_id) is not None


def test_a_listing_without_a_filter_stops_at_the_scan_bound_among_expired_entries(
    stores: tuple[JobStore, AsyncStoreRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no status filter a listing read every expired entry it met, however many: a key's last
    page could walk tens of thousands in one request."""
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 6)
    for record in records[1:5]:
        sync_store.client.delete(job_key(record.job_id))
    monkeypatch.setattr(job_store_module, "LIST_SCAN_MAX", 3)
    first = async_store.list(status=None, job_type=None, owner=owner, limit=10)
    assert [r.job_id for r in first.records] == [records[5].job_id] and first.older_unread
    rest = async_store.list(status=None, job_type=None, owner=owner, limit=10, after=first.next_cursor)
    assert [r.job_id for r in rest.records] == [records[0].job_id] and rest.next_cursor is None


def test_a_cursor_reads_back_as_written() -> None:
    cursor = ListCursor(1765036800.1234567, uuid.uuid4().hex)
    assert ListCursor.parse(str(cursor)) == cursor
    for text in ("", "1.5", "abc_def", "nan_" + "a" * 32, "1.5_a b", "-1.0_abc", "1.5_" + "a" * 65):
        with pytest.raises(ValueError):
            ListCursor.parse(text)


def test_a_status_filter_looks_at_most_at_the_scan_bound_and_its_next_offset_goes_on_from_there(
    stores: tuple[JobStore, AsyncStoreRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It read every record the key had: 26 s for a key with 200,000 jobs."""
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 6)
    sync_store.start(records[0].job_id, worker="w1")  # the oldest: past the bound below
    sync_store.start(records[4].job_id, worker="w1")
    monkeypatch.setattr(job_store_module, "LIST_SCAN_MAX", 3)
    running, more, unread = page_parts(
        async_store.list(status=JobStatus.RUNNING, job_type=None, owner=owner, limit=10, offset=0)
    )
    assert [r.job_id for r in running] == [records[4].job_id] and more == 3 and unread
    running, more, unread = page_parts(
        async_store.list(status=JobStatus.RUNNING, job_type=None, owner=owner, limit=10, offset=more)
    )
    assert [r.job_id for r in running] == [records[0].job_id] and more is None and not unread
    queued, more, unread = page_parts(
        async_store.list(status=JobStatus.QUEUED, job_type=None, owner=owner, limit=1, offset=1)
    )
    assert [r.job_id for r in queued] == [records[3].job_id] and more == 3 and not unread
    monkeypatch.setattr(job_store_module, "LIST_SCAN_MAX", 6)
    running, more, unread = page_parts(
        async_store.list(status=JobStatus.RUNNING, job_type=None, owner=owner, limit=10, offset=0)
    )
    assert len(running) == 2 and more is None and not unread  # every job looked at


def test_a_status_filters_pages_skip_no_job_when_jobs_leave_the_filter_between_them(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """Offsets counted matching jobs: once the first page's jobs had started, the second page
    began two queued jobs too far and skipped them."""
    sync_store, async_store = stores
    owner, records = created_jobs(async_store, 5)
    first, more, _ = page_parts(
        async_store.list(status=JobStatus.QUEUED, job_type=None, owner=owner, limit=2, offset=0)
    )
    assert [r.job_id for r in first] == [records[4].job_id, records[3].job_id]
    for record in first:
        sync_store.start(record.job_id, worker="w1")
    second, more, _ = page_parts(
        async_store.list(status=JobStatus.QUEUED, job_type=None, owner=owner, limit=2, offset=more)
    )
    assert [r.job_id for r in second] == [records[2].job_id, records[1].job_id]


def test_each_owner_and_type_has_an_index_that_listing_reads(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    owner = uuid.uuid4().hex
    generated = [make_record(JobType.GENERATE, owner=owner) for _ in range(2)]
    extracted = make_record(JobType.EXTRACT_COURSE_NAMES, owner=owner)
    others = make_record(JobType.GENERATE, owner=uuid.uuid4().hex)
    for record in [*generated, extracted, others]:
        async_store.create(record)
    redis = sync_store.client

    assert set(redis.zrange(owner_index_key(owner), 0, -1)) == {r.job_id for r in [*generated, extracted]}
    assert set(redis.zrange(owner_index_key(owner, JobType.GENERATE), 0, -1)) == {r.job_id for r in generated}
    assert 600 < redis.ttl(owner_index_key(owner)) <= 1200  # twice RESULT_TTL: records outlive creation + TTL
    page, more, _ = page_parts(
        async_store.list(status=None, job_type=JobType.EXTRACT_COURSE_NAMES, owner=owner, limit=10, offset=0)
    )
    assert [r.job_id for r in page] == [extracted.job_id] and not more

    sync_store.start(generated[0].job_id, worker="w1")
    running, _, _ = page_parts(
        async_store.list(status=JobStatus.RUNNING, job_type=None, owner=owner, limit=10, offset=0)
    )
    assert [r.job_id for r in running] == [generated[0].job_id]

    async_store.delete(extracted)
    for index in (INDEX_KEY, owner_index_key(owner), owner_index_key(owner, JobType.EXTRACT_COURSE_NAMES)):
        assert redis.zscore(index, extracted.job_id) is None


def test_jobs_recorded_before_the_owner_indexes_are_added_to_them_once(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    redis = sync_store.client
    owner = uuid.uuid4().hex
    older = make_record(JobType.EXTRACT_COURSE_NAMES, owner=owner)
    redis.hset(job_key(older.job_id), mapping=older.to_hash())  # as jobs were recorded before
    redis.zadd(INDEX_KEY, {older.job_id: 1.0})
    redis.delete(OWNER_INDEXES_FILLED_KEY)
    assert page_parts(async_store.list(status=None, job_type=None, owner=owner, limit=10, offset=0)) == (
        [],
        None,
        False,
    )

    assert async_store.index_older_jobs() >= 1
    for job_type in (None, JobType.EXTRACT_COURSE_NAMES):
        page, _, _ = page_parts(
            async_store.list(status=None, job_type=job_type, owner=owner, limit=10, offset=0)
        )
        assert [r.job_id for r in page] == [older.job_id]
    assert async_store.index_older_jobs() == 0  # once


def test_a_long_wait_outlasts_the_client_socket_timeout(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    """Waits longer than one blocking read (and than the socket timeout) are loops of short reads."""
    import threading

    sync_store, runner = stores
    record = make_record()

    async def scenario() -> JobRecord | None:
        async_store = AsyncJobStore.from_url(runner.url, ttl=600)
        await async_store.create(record)
        sync_store.start(record.job_id, worker="w1")
        finisher = threading.Timer(
            11, lambda: sync_store.finish(record.job_id, JobStatus.SUCCEEDED, result={})
        )
        finisher.start()
        try:
            return await async_store.wait_for_final(record.job_id, timeout=30)
        finally:
            finisher.cancel()
            await async_store.close()

    assert asyncio.run(scenario()).status is JobStatus.SUCCEEDED


def test_orphaned_jobs_are_those_of_a_gone_worker(stores: tuple[JobStore, AsyncStoreRunner]) -> None:
    sync_store, async_store = stores
    workers = {name: f"{name}-{uuid.uuid4().hex[:8]}@host" for name in ("gone", "alive", "restarting")}
    jobs = {}
    for name, worker in workers.items():
        record = make_record(JobType.FINETUNE)
        record.queue = Queue.TRAINING
        async_store.create(record)
        assert sync_store.start(record.job_id, worker=worker) is not None
        jobs[record.job_id] = name
    sync_store.heartbeat(Queue.TRAINING, workers["alive"], {}, ttl=30)
    # the restarting worker's key may outlive its previous incarnation by a few seconds
    sync_store.heartbeat(Queue.TRAINING, workers["restarting"], {}, ttl=30)
    orphans = sync_store.orphaned_jobs(workers["restarting"], Queue.TRAINING)
    assert {jobs[r.job_id] for r in orphans if r.job_id in jobs} == {"gone", "restarting"}


def test_live_workers_are_those_whose_heartbeat_has_not_expired(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    alive, gone = (f"{name}-{uuid.uuid4().hex[:8]}@host" for name in ("alive", "gone"))
    for hostname in (alive, gone):
        sync_store.heartbeat(Queue.INFERENCE, hostname, {"hostname": hostname}, ttl=30)
    sync_store.client.delete(heartbeat_key(Queue.INFERENCE, gone))  # as when its key expires
    found = {w["hostname"] for w in async_store.live_workers(Queue.INFERENCE)}
    assert alive in found and gone not in found
    assert not sync_store.client.sismember(worker_index_key(Queue.INFERENCE), gone)
    assert sync_store.client.sismember(worker_index_key(Queue.INFERENCE), alive)


def test_an_idempotency_key_is_released_only_by_its_own_job(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    _, async_store = stores
    key, job, other = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    assert async_store.claim_idempotency_key("", key, job, "print") is None
    async_store.release_idempotency_key("", key, other)  # bound to another job: kept
    assert async_store.claim_idempotency_key("", key, other, "print") == f"{job}:print"
    async_store.release_idempotency_key("", key, job)  # a job never published frees its key
    assert async_store.claim_idempotency_key("", key, other, "print") is None
    # a claim retried after Redis applied it (its reply lost) finds its own job: still claimed
    assert async_store.claim_idempotency_key("", key, other, "print") is None


@pytest.fixture
def proxy(redis_url: str) -> Iterator[ReplyDroppingProxy]:
    running = ReplyDroppingProxy(redis_url)
    yield running
    running.close()


def test_a_cancel_whose_reply_was_lost_is_retried_and_reports_that_it_cancelled(
    stores: tuple[JobStore, AsyncStoreRunner], proxy: ReplyDroppingProxy
) -> None:
    sync_store, _ = stores
    record = make_record()
    through_proxy = AsyncStoreRunner(proxy.url)
    through_proxy.create(record)
    # a transition that changes nothing loads the script, so the lost reply is that of a script
    # Redis ran (not a NOSCRIPT answer)
    assert sync_store.transition(record.job_id, (JobStatus.RUNNING,), None) is None
    proxy.drop_next_reply_to(b"EVALSHA")
    previous = through_proxy.transition(record.job_id, (JobStatus.QUEUED,), JobStatus.CANCELLED)
    assert proxy.replies_dropped == 1
    assert previous is JobStatus.QUEUED  # not None ("already cancelled"), which would answer 409
    assert sync_store.get(record.job_id).status is JobStatus.CANCELLED


def test_a_token_event_whose_reply_was_lost_is_recorded_once(
    stores: tuple[JobStore, AsyncStoreRunner], proxy: ReplyDroppingProxy
) -> None:
    _, async_store = stores
    record = make_record()
    async_store.create(record)
    worker_store = JobStore.from_url(proxy.url, ttl=600, outage_seconds=5)
    worker_store.start(record.job_id, worker="w1")
    proxy.drop_next_reply_to(b" once")
    worker_store.add_event(record.job_id, {"type": "token", "text": " once"})
    worker_store.add_event(record.job_id, {"type": "token", "text": " twice"})
    assert proxy.replies_dropped == 1
    events = async_store.read_events(record.job_id, "0-0", block_ms=100)
    tokens = [event["text"] for _, event in events if event["type"] == "token"]
    assert tokens == [" once", " twice"]


def test_a_token_retried_after_a_cancel_request_landed_is_still_recorded_once(
    stores: tuple[JobStore, AsyncStoreRunner], proxy: ReplyDroppingProxy
) -> None:
    """The API's cancel request recorded its own token over the worker's, and the worker's retry
    then ran again: its token came twice."""
    _, async_store = stores
    record = make_record()
    async_store.create(record)
    worker_store = JobStore.from_url(proxy.url, ttl=600, outage_seconds=5)
    worker_store.start(record.job_id, worker="w1")
    proxy.drop_next_reply_to(b" once", lambda: async_store.request_cancel(record.job_id))
    worker_store.add_event(record.job_id, {"type": "token", "text": " once"})
    assert proxy.replies_dropped == 1
    assert worker_store.get(record.job_id).cancel_requested
    events = async_store.read_events(record.job_id, "0-0", block_ms=100)
    assert [event["text"] for _, event in events if event["type"] == "token"] == [" once"]


def test_a_job_seen_ended_is_already_counted_and_a_retried_end_counts_once(
    stores: tuple[JobStore, AsyncStoreRunner], proxy: ReplyDroppingProxy
) -> None:
    """The counter was added one round trip after the status: GET /metrics, read by a client that
    had just seen the job succeed, could still miss it."""
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    worker_store = JobStore.from_url(proxy.url, ttl=600, outage_seconds=5)
    worker_store.start(record.job_id, worker="w1")
    field = f"{record.type.value}:succeeded"
    before = int(sync_store.client.hget(COUNTS_KEY, field) or 0)
    seen: list[tuple[JobStatus, int]] = []

    def look() -> None:  # after Redis ran the finish, before the worker hears (and retries)
        counted = int(sync_store.client.hget(COUNTS_KEY, field) or 0)
        seen.append((sync_store.get(record.job_id).status, counted))

    proxy.drop_next_reply_to(b'"succeeded"', look)
    assert worker_store.finish(record.job_id, JobStatus.SUCCEEDED, result={}) is JobStatus.SUCCEEDED
    assert seen == [(JobStatus.SUCCEEDED, before + 1)]
    assert int(sync_store.client.hget(COUNTS_KEY, field)) == before + 1


def test_tokens_retried_across_a_redis_that_forgot_its_scripts_are_recorded_once(
    stores: tuple[JobStore, AsyncStoreRunner], proxy: ReplyDroppingProxy
) -> None:
    """A pipeline loads its scripts once, before the client's retries: after a Redis restart its
    retry got NOSCRIPT, and the job failed with TokenStreamError."""
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    worker_store = JobStore.from_url(proxy.url, ttl=600, outage_seconds=5)
    worker_store.start(record.job_id, worker="w1")
    proxy.drop_next_reply_to(b" once", lambda: sync_store.client.script_flush())  # as a restart does
    worker_store.add_events({record.job_id: {"type": "token", "text": " once"}})
    assert proxy.replies_dropped == 1
    events = async_store.read_events(record.job_id, "0-0", block_ms=100)
    assert [event["text"] for _, event in events if event["type"] == "token"] == [" once"]


def test_token_events_of_a_job_that_is_no_longer_running_are_not_added(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    record = make_record()
    async_store.create(record)
    sync_store.start(record.job_id, worker="w1")
    sync_store.finish(record.job_id, JobStatus.SUCCEEDED, result={})
    sync_store.add_event(record.job_id, {"type": "token", "text": " late"})
    events = async_store.read_events(record.job_id, "0-0", block_ms=100)
    assert [event["type"] for _, event in events] == ["status", "status", "final"]


def test_a_queued_jobs_idempotency_key_is_kept_as_long_as_its_record(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """The key expired after RESULT_TTL while the job could still wait in the queue: a retry
    then made a second job."""
    sync_store, async_store = stores
    record, other = make_record(owner="alice"), make_record(owner="alice")
    async_store.create(record)
    key, other_key = uuid.uuid4().hex, uuid.uuid4().hex
    assert async_store.claim_idempotency_key("alice", key, record.job_id, "print") is None
    assert async_store.claim_idempotency_key("alice", other_key, other.job_id, "print") is None
    assert async_store.keep_while_queued(record, 3600, ("alice", key)) is True
    assert 3600 < sync_store.client.ttl(idempotency_key("alice", key)) <= 3600 + 600
    # a key bound to another job is left as it is
    assert async_store.keep_while_queued(record, 3600, ("alice", other_key)) is True
    assert 0 < sync_store.client.ttl(idempotency_key("alice", other_key)) <= 600


def test_the_idempotency_key_of_a_job_a_worker_took_before_it_was_kept_is_kept_as_long(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """It kept RESULT_TTL from submission while the record lives RESULT_TTL past the job's end: a
    retry during a long fine-tune's last day made a second fine-tune."""
    sync_store, async_store = stores
    record = make_record(owner="alice")
    async_store.create(record)
    key = uuid.uuid4().hex
    assert async_store.claim_idempotency_key("alice", key, record.job_id, "print") is None
    sync_store.start(record.job_id, worker="w1")  # before the API's keep_while_queued
    assert async_store.keep_while_queued(record, 3600, ("alice", key)) is False
    assert 3600 < sync_store.client.ttl(idempotency_key("alice", key)) <= 3600 + 600


def test_a_published_job_keeps_its_record_while_it_may_wait_and_result_ttl_once_it_has_run(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    redis = sync_store.client
    record = make_record()
    async_store.create(record)
    assert 0 < redis.ttl(job_key(record.job_id)) <= 600  # a job never published: RESULT_TTL
    assert async_store.keep_while_queued(record, 3600) is True
    for key in (job_key(record.job_id), events_key(record.job_id)):
        assert 3600 < redis.ttl(key) <= 3600 + 600  # its longest wait, then RESULT_TTL to read it

    sync_store.start(record.job_id, worker="w1")
    assert 0 < redis.ttl(job_key(record.job_id)) <= 600
    # a worker that took the job before the API kept it: the record keeps its expiry
    assert async_store.keep_while_queued(record, 3600) is False
    assert 0 < redis.ttl(job_key(record.job_id)) <= 600
    sync_store.finish(record.job_id, JobStatus.SUCCEEDED, result={})
    assert 0 < redis.ttl(events_key(record.job_id)) <= 600


def test_trimming_an_index_removes_old_expired_jobs_and_keeps_old_ones_still_recorded(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    redis = sync_store.client
    owner = uuid.uuid4().hex
    waited_long, expired = make_record(owner=owner), make_record(owner=owner)
    async_store.create(waited_long)
    async_store.keep_while_queued(waited_long, 3600)
    for index in index_keys(waited_long):  # both created long before the index's cutoff
        redis.zadd(index, {waited_long.job_id: 1.0, expired.job_id: 1.0})

    async_store.create(make_record(owner=owner))
    for index in index_keys(waited_long):
        assert redis.zscore(index, waited_long.job_id) == 1.0
        assert redis.zscore(index, expired.job_id) is None
    page, _, _ = page_parts(
        async_store.list(status=JobStatus.QUEUED, job_type=None, owner=owner, limit=10, offset=0)
    )
    assert waited_long.job_id in {r.job_id for r in page}


def test_a_queued_jobs_indexes_are_kept_as_long_as_it_may_wait(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """The indexes lived 2 x RESULT_TTL from the owner's last job, and a job that waited longer in
    the queue was no longer listed (nor found by the orphan scan)."""
    sync_store, async_store = stores
    redis = sync_store.client
    owner = uuid.uuid4().hex
    waiting = make_record(owner=owner)
    async_store.create(waiting)
    assert async_store.keep_while_queued(waiting, 7 * 24 * 3600)
    at_least = 7 * 24 * 3600 + sync_store.index_ttl - 60  # as the API store keeps them
    assert all(redis.ttl(index) > at_least for index in index_keys(waiting))
    # the owner's next job does not cut them short
    async_store.create(make_record(owner=owner))
    sync_store.start(waiting.job_id, worker="w1")
    assert all(redis.ttl(index) > at_least for index in index_keys(waiting))


def test_a_starting_job_is_indexed_again_when_its_indexes_expired_while_it_waited(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    redis = sync_store.client
    record = make_record(JobType.FINETUNE, owner=uuid.uuid4().hex)
    record.queue = Queue.TRAINING
    async_store.create(record)
    score = redis.zscore(INDEX_KEY, record.job_id)
    for index in index_keys(record):
        redis.zrem(index, record.job_id)  # as when an index expires with no job created

    worker = f"gone-{uuid.uuid4().hex[:8]}@host"
    assert sync_store.start(record.job_id, worker=worker) is not None
    for index in index_keys(record):
        assert redis.zscore(index, record.job_id) == pytest.approx(score, abs=1.0)
        assert redis.ttl(index) > 0
    assert record.job_id in {r.job_id for r in sync_store.orphaned_jobs("another@host", Queue.TRAINING)}


def test_an_index_with_many_old_jobs_still_recorded_is_trimmed_behind_them(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """Old entries whose record is still there (jobs that waited long) do not stop the trimming of
    the expired entries behind them, and each trim looks at a bounded number of entries."""
    sync_store, async_store = stores
    redis = sync_store.client
    owner = uuid.uuid4().hex
    index = owner_index_key(owner)
    kept = [make_record(owner=owner) for _ in range(3 * TRIM_WINDOW)]
    with redis.pipeline(transaction=False) as pipe:
        for position, record in enumerate(kept):
            pipe.hset(job_key(record.job_id), mapping=record.to_hash())
            pipe.expire(job_key(record.job_id), 600)
            pipe.zadd(index, {record.job_id: 1.0 + position})
        pipe.zadd(index, {f"expired-{n}": 10_000.0 + n for n in range(20)})
        pipe.execute()

    for _ in range(60):  # each look at one window of TRIM_WINDOW; expected ~4 to reach each
        async_store.create(make_record(owner=owner))
        if not any(job_id.startswith("expired-") for job_id in redis.zrange(index, 0, -1)):
            break
    remaining = redis.zrange(index, 0, -1)
    assert not [job_id for job_id in remaining if job_id.startswith("expired-")]
    assert {r.job_id for r in kept} <= set(remaining)


def test_a_job_celery_dropped_is_ended_from_queued_or_running_once(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    queued, running = make_record(), make_record()
    for record in (queued, running):
        async_store.create(record)
    sync_store.start(running.job_id, worker="w1")
    error = {"type": "Cancelled", "message": "revoked"}
    assert sync_store.end_dropped(queued.job_id, JobStatus.CANCELLED, error) is JobStatus.QUEUED
    assert sync_store.end_dropped(running.job_id, JobStatus.FAILED, error) is JobStatus.RUNNING
    assert sync_store.end_dropped(running.job_id, JobStatus.CANCELLED, error) is None
    assert sync_store.get(queued.job_id).status is JobStatus.CANCELLED
    ended = sync_store.get(running.job_id)
    assert ended.status is JobStatus.FAILED and ended.error == error and ended.finished_at
    assert 0 < sync_store.client.ttl(job_key(queued.job_id)) <= 600


def test_a_job_leaves_its_owners_queued_jobs_however_it_leaves_the_queue(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    owner = uuid.uuid4().hex
    started, cancelled, dropped = records = [make_record(owner=owner) for _ in range(3)]
    for record in records:
        assert admitted(async_store, record, 3, 600)
        async_store.create(record)
    assert not admitted(async_store, make_record(owner=owner), 3, 600)
    assert admitted(async_store, make_record(owner=f"{owner}-other"), 3, 600)

    sync_store.start(started.job_id, worker="w1")
    async_store.transition(cancelled.job_id, (JobStatus.QUEUED,), JobStatus.CANCELLED)
    sync_store.end_dropped(dropped.job_id, JobStatus.FAILED, {"type": "QueueWaitExpired", "message": "late"})
    sync_store.finish(started.job_id, JobStatus.SUCCEEDED, result={"generated_text": "a"})
    # the cancelled job's message waits in the broker's list until a worker drops it
    assert sync_store.client.zcard(queued_jobs_keys(Queue.INFERENCE, owner)[1]) == 1
    sync_store.message_dropped(cancelled)

    assert sync_store.client.zcard(queued_jobs_keys(Queue.INFERENCE, owner)[1]) == 0
    assert all(admitted(async_store, make_record(owner=owner), 3, 600) for _ in range(3))


def test_a_job_cancelled_while_queued_counts_among_its_owners_no_longer_than_its_record_lives(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """Counted for MAX_QUEUE_WAIT (7 days): with no worker to drop its message before its record
    expired, it held a place of its key's MAX_QUEUED_JOBS_PER_KEY long after."""
    sync_store, async_store = stores
    owner = uuid.uuid4().hex
    record = make_record(owner=owner)
    queue_wait = 7 * 24 * 3600  # MAX_QUEUE_WAIT by default
    assert admitted(async_store, record, 3, queue_wait)
    async_store.create(record)
    async_store.keep_while_queued(record, queue_wait)  # published
    async_store.transition(record.job_id, (JobStatus.QUEUED,), JobStatus.CANCELLED)
    counted_until = sync_store.client.zscore(queued_jobs_keys(Queue.INFERENCE, owner)[1], record.job_id)
    record_lives = sync_store.client.ttl(job_key(record.job_id))
    assert 0 < record_lives <= counted_until - time.time() + 1 <= record_lives + 2


def test_a_queued_job_that_was_never_created_or_outwaited_its_queue_wait_is_not_counted(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    sync_store, async_store = stores
    owner = uuid.uuid4().hex
    never_published = make_record(owner=owner)
    assert admitted(async_store, never_published, 1, 600)
    async_store.create(never_published)
    async_store.delete(never_published)
    not_created = make_record(owner=owner)
    assert admitted(async_store, not_created, 1, 600)
    async_store.release_queued(not_created)
    lost = make_record(owner=owner)  # its message never reaches a worker, its record expires
    assert admitted(async_store, lost, 1, 1)
    assert not admitted(async_store, make_record(owner=owner), 1, 600)
    time.sleep(1.1)
    assert admitted(async_store, make_record(owner=owner), 1, 600)
    assert sync_store.client.zcard(queued_jobs_keys(Queue.INFERENCE, owner)[1]) == 1


def test_an_admission_retried_after_its_reply_was_lost_admits_the_same_job(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    _, async_store = stores
    record = make_record(owner=uuid.uuid4().hex)
    assert admitted(async_store, record, 1, 600)
    assert admitted(async_store, record, 1, 600)  # the retry finds itself, not a full queue
    assert not admitted(async_store, make_record(owner=record.owner), 1, 600)


def test_a_queued_job_counts_until_its_record_expires_and_as_long_as_it_may_wait_once_kept(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """A record that expired while queued (keep_while_queued failed) kept its count for days."""
    sync_store, async_store = stores
    record = make_record(owner=uuid.uuid4().hex)
    key = queued_jobs_keys(record.queue, record.owner)[1]
    assert admitted(async_store, record, 5, 7 * 24 * 3600)
    async_store.create(record)
    assert sync_store.client.zscore(key, record.job_id) <= time.time() + 600  # the record's RESULT_TTL
    assert async_store.keep_while_queued(record, 5000)
    assert time.time() + 4900 < sync_store.client.zscore(key, record.job_id) <= time.time() + 5000


def test_a_queue_counts_its_waiting_jobs_not_those_cancelled_while_queued(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """A cancelled job's message stays in the broker's list until a worker drops it: one key that
    submitted and cancelled filled the queue's MAX_QUEUED_JOBS, and every other key got 429."""
    sync_store, async_store = stores
    sync_store.client.delete(waiting_jobs_key(Queue.TRAINING))
    first, second = (
        JobRecord(**{**make_record(owner=uuid.uuid4().hex).__dict__, "queue": Queue.TRAINING})
        for _ in range(2)
    )
    for record in (first, second):
        assert (
            async_store.admit_queued(record, most_in_queue=2, most_of_owner=0, queue_wait=600)
            is Admission.ADMITTED
        )
        async_store.create(record)
    third = JobRecord(**{**make_record().__dict__, "queue": Queue.TRAINING})
    assert (
        async_store.admit_queued(third, most_in_queue=2, most_of_owner=0, queue_wait=600)
        is Admission.QUEUE_FULL
    )
    async_store.transition(first.job_id, (JobStatus.QUEUED,), JobStatus.CANCELLED)
    assert (
        async_store.admit_queued(third, most_in_queue=2, most_of_owner=0, queue_wait=600)
        is Admission.ADMITTED
    )
    # its owner's count keeps it until a worker drops its message, which waits in the broker's
    # list till then: a key that submitted and cancelled in a loop filled that list for every key
    first_owners = queued_jobs_keys(first.queue, first.owner)[1]
    assert sync_store.client.zscore(first_owners, first.job_id) is not None
    sync_store.message_dropped(first)
    assert sync_store.client.zscore(first_owners, first.job_id) is None
    owner_full = JobRecord(**{**make_record(owner=second.owner).__dict__, "queue": Queue.TRAINING})
    sync_store.client.delete(waiting_jobs_key(Queue.TRAINING))
    assert (
        async_store.admit_queued(owner_full, most_in_queue=9, most_of_owner=1, queue_wait=600)
        is Admission.OWNER_FULL
    )


def test_a_withdrawn_submission_is_counted_apart_and_no_counter_goes_down(
    stores: tuple[JobStore, AsyncStoreRunner],
) -> None:
    """delete() took 1 off jobs_total{event="submitted"}: Prometheus reads a counter that went down
    as a reset, and rate() then counted its whole total again."""
    sync_store, async_store = stores
    record = make_record()

    def count(event: str) -> int:
        return int(sync_store.client.hget(COUNTS_KEY, f"{record.type.value}:{event}") or 0)

    submitted, withdrawn = count("submitted"), count("withdrawn")
    async_store.create(record)
    async_store.delete(record)  # never published
    assert (count("submitted"), count("withdrawn")) == (submitted + 1, withdrawn + 1)
    assert sync_store.get(record.job_id) is None
