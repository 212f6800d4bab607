"""A job whose Celery message a worker drops (revoked, terminated, an unknown task) is ended with
a reason, not left queued or running; Celery's own signals are sent as its worker sends them, with
a real Redis. (The expired message is covered end to end in tests/e2e/test_without_workers.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from celery.app.task import Context
from celery.signals import task_revoked, task_unknown

import worker.dropped_jobs  # noqa: F401  (connects the handlers)
from shared.job_store import JobStore
from shared.jobs import JobStatus
from worker.runtime import get_runtime


@pytest.mark.parametrize(
    ("expired", "status", "error_type"),
    [(False, JobStatus.CANCELLED, "Cancelled"), (True, JobStatus.FAILED, "QueueWaitExpired")],
)
def test_a_revoked_or_expired_queued_job_is_ended(
    runtime_on: JobStore,
    queued_finetune: Callable[[], str],
    expired: bool,
    status: JobStatus,
    error_type: str,
) -> None:
    job_id = queued_finetune()
    task_revoked.send(sender=None, request=Context(id=job_id), terminated=False, signum=None, expired=expired)
    record = get_runtime().job_store.get(job_id)
    assert record.status is status
    assert record.error["type"] == error_type
    assert record.finished_at is not None


def test_a_running_job_terminated_through_celery_is_cancelled(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    job_id = queued_finetune()
    store = get_runtime().job_store
    store.start(job_id, worker="training@host")
    task_revoked.send(sender=None, request=Context(id=job_id), terminated=True, signum=15, expired=False)
    record = store.get(job_id)
    assert record.status is JobStatus.CANCELLED
    assert "terminated" in record.error["message"]


def test_a_job_of_a_task_no_worker_knows_fails(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    job_id = queued_finetune()
    task_unknown.send(sender=None, name="platform.renamed", id=job_id, message=None, exc=KeyError("x"))
    record = get_runtime().job_store.get(job_id)
    assert record.status is JobStatus.FAILED
    assert record.error["type"] == "UnknownTask" and "platform.renamed" in record.error["message"]


def test_a_finished_job_is_left_as_it_ended(runtime_on: JobStore, queued_finetune: Callable[[], str]) -> None:
    job_id = queued_finetune()
    store = get_runtime().job_store
    store.start(job_id, worker="training@host")
    store.finish(job_id, JobStatus.SUCCEEDED, result={"version": "v1"})
    task_revoked.send(sender=None, request=Context(id=job_id), terminated=False, signum=None, expired=True)
    assert store.get(job_id).status is JobStatus.SUCCEEDED


def test_a_running_job_whose_message_came_back_past_max_queue_wait_failed_as_lost(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    job_id = queued_finetune()
    store = get_runtime().job_store
    store.start(job_id, worker="training@gone-host")
    task_revoked.send(sender=None, request=Context(id=job_id), terminated=False, signum=None, expired=True)
    record = store.get(job_id)
    assert record.status is JobStatus.FAILED and record.error["type"] == "WorkerLost"
