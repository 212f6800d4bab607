"""A job whose Celery message a worker drops (revoked, terminated, an unknown task) is ended with
a reason, not left queued or running; Celery's own signals are sent as its worker sends them, with
a real Redis. (The expired message is covered end to end in tests/e2e/test_without_workers.py.)"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from celery.app.task import Context
from celery.signals import task_revoked, task_unknown
from celery.worker import state as worker_state

import worker.dropped_jobs  # noqa: F401  (connects the handlers)
from shared.job_store import JobStore, queued_jobs_keys
from shared.jobs import JobStatus, Queue
from tests.shared.test_job_store import AsyncStoreRunner
from tests.worker.conftest import beating
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


def test_a_running_job_cancelled_before_its_message_came_back_past_max_queue_wait_ends_cancelled(
    runtime_on: JobStore, queued_finetune: Callable[[], str], redis_url: str
) -> None:
    job_id = queued_finetune()
    store = get_runtime().job_store
    store.start(job_id, worker="training@gone-host")
    assert AsyncStoreRunner(redis_url).request_cancel(job_id) is JobStatus.RUNNING
    task_revoked.send(sender=None, request=Context(id=job_id), terminated=False, signum=None, expired=True)
    record = store.get(job_id)
    assert record.status is JobStatus.CANCELLED and record.error["type"] == "Cancelled"


def test_an_expired_copy_of_a_running_jobs_message_leaves_a_live_workers_run_alone(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    """kombu puts an unacknowledged message back when the broker connection drops: its copy,
    past MAX_QUEUE_WAIT, failed the job as lost while the worker running it was alive."""
    job_id = queued_finetune()
    store = get_runtime().job_store
    store.start(job_id, worker="training@live-host")
    copy = Context(id=job_id, hostname="training@other-host")
    worker_state.revoked.add(job_id)  # as Celery marks an expired message's id before the signal
    with beating(store, Queue.TRAINING, "training@live-host", [job_id]):
        task_revoked.send(sender=None, request=copy, terminated=False, signum=None, expired=True)
    assert store.get(job_id).status is JobStatus.RUNNING
    # no revoke of the run: the watch that cancels revoked running jobs leaves it alone
    assert job_id not in worker_state.revoked


def test_a_job_cancelled_while_queued_stops_counting_for_its_key_once_its_message_is_dropped(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    job_id = queued_finetune()
    store = get_runtime().job_store
    record = store.get(job_id)
    owners_queued = queued_jobs_keys(record.queue, record.owner)[1]
    store.client.zadd(owners_queued, {job_id: time.time() + 600})  # as the API admitted it
    store.transition(job_id, (JobStatus.QUEUED,), JobStatus.CANCELLED)
    store.client.zadd(owners_queued, {job_id: time.time() + 600})  # as the API's cancel keeps it
    task_revoked.send(sender=None, request=Context(id=job_id), terminated=False, signum=None, expired=True)
    assert store.get(job_id).status is JobStatus.CANCELLED
    assert store.client.zscore(owners_queued, job_id) is None
