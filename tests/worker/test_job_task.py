"""What a worker does with an inference job the broker delivers again after its worker was lost."""

from __future__ import annotations

import uuid

from shared.job_store import JobRecord, JobStore, now_iso
from shared.jobs import JobStatus, JobType, Queue
from tests.shared.test_job_store import AsyncStoreRunner
from worker.tasks.inference import generate

INPUT = {"model": "bigram", "start_word": "the", "length": 5, "stream": True}


def test_a_job_cancelled_while_it_ran_is_not_run_again_when_redelivered(
    runtime_on: JobStore, redis_url: str
) -> None:
    """The user cancelled it (DELETE answered 202) and its worker died before it stopped: the
    broker's second delivery ran it again, a streamed job streaming its tokens anew."""
    record = JobRecord(
        job_id=uuid.uuid4().hex,
        type=JobType.GENERATE,
        status=JobStatus.QUEUED,
        queue=Queue.INFERENCE,
        input=INPUT,
        created_at=now_iso(),
    )
    AsyncStoreRunner(redis_url).create(record)
    assert runtime_on.start(record.job_id, worker="inference@lost-host") is not None
    assert AsyncStoreRunner(redis_url).request_cancel(record.job_id) is JobStatus.RUNNING
    assert generate(record.job_id, INPUT) is None  # the broker's second delivery
    stored = runtime_on.get(record.job_id)
    assert stored is not None and stored.status is JobStatus.CANCELLED
    assert stored.error is not None and stored.error["type"] == "Cancelled"
    assert not runtime_on.streamed_tokens(record.job_id)
