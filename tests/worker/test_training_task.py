"""The fine-tuning task: it stops at TRAINING_TIME_LIMIT, and a run lost with its worker is not
run again when the broker delivers it anew."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from celery.exceptions import Retry

from shared.data_files import DataUnavailableError
from shared.job_store import JobStore, heartbeat_key
from shared.jobs import JobStatus, Queue
from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from tests.shared.test_job_store import AsyncStoreRunner
from tests.worker.conftest import beating
from training.cli import UsageError
from training.squad import FinetuneConfig
from worker.tasks.training import (
    LOST_MESSAGE,
    STOPPED_TOO_LATE_MESSAGE,
    TrainingTimeLimitError,
    finetune,
    time_limit_check,
)


def test_the_time_limit_check_raises_once_the_limit_has_passed() -> None:
    now = [100.0]
    check = time_limit_check(60, clock=lambda: now[0])
    now[0] = 159.0
    check()  # within the limit
    now[0] = 160.5
    with pytest.raises(TrainingTimeLimitError, match="TRAINING_TIME_LIMIT"):
        check()


def test_a_redelivered_finetune_that_was_running_is_failed_not_run_again(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    store = runtime_on
    job_id = queued_finetune()
    assert store.start(job_id, worker="training@lost-host") is not None
    assert finetune(job_id, {"max_steps": 3}) is None  # the broker's second delivery
    stored = store.get(job_id)
    assert stored is not None and stored.status is JobStatus.FAILED
    assert stored.error is not None and stored.error["type"] == "WorkerLost"
    assert "no model version was published" in stored.error["message"]


def test_a_finetune_delivered_twice_while_a_live_worker_runs_it_is_left_to_that_worker(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    """A message published twice (a publish retried after Redis applied it but lost its reply)
    reaches a second worker while the first runs the job: the copy is deferred (delivered again
    later, in case that run is lost yet), the run goes on."""
    store = runtime_on
    job_id = queued_finetune()
    running_on = f"training@{uuid.uuid4().hex[:8]}"
    assert store.start(job_id, worker=running_on) is not None
    with beating(store, Queue.TRAINING, running_on, [job_id]):
        with pytest.raises(Retry):
            finetune(job_id, {"max_steps": 3})  # the copy
        # still deferred after many rounds (a fine-tune runs for hours): Celery's default of 3
        # retries failed the copy after a few minutes, and dropped the job's last message
        finetune.push_request(
            id=job_id, retries=10, is_eager=True, called_directly=False, hostname="training@b"
        )
        try:
            with pytest.raises(Retry):
                finetune(job_id, {"max_steps": 3})
        finally:
            finetune.pop_request()
    stored = store.get(job_id)
    assert stored is not None and stored.status is JobStatus.RUNNING and stored.worker == running_on


@pytest.mark.parametrize(
    "heartbeat",
    ["a SIGKILLed worker's last beat, which lives on", "a process started anew under its hostname"],
)
def test_a_finetune_delivered_again_after_its_worker_died_is_ended_though_a_heartbeat_is_there(
    runtime_on: JobStore, queued_finetune: Callable[[], str], heartbeat: str
) -> None:
    """The copy was dropped, as if the run went on, while the worker's heartbeat key was there: a
    dead worker's for 10 s more, or a new process's under the same hostname. The job stayed
    running for good, its last message gone."""
    store = runtime_on
    job_id = queued_finetune()
    running_on = f"training@{uuid.uuid4().hex[:8]}"
    assert store.start(job_id, worker=running_on) is not None
    if heartbeat.startswith("a SIGKILLed"):
        last_beat = {"hostname": running_on, "beat_id": "last", "running_jobs": [job_id]}
        store.heartbeat(Queue.TRAINING, running_on, last_beat, ttl=3)
        assert finetune(job_id, {"max_steps": 3}) is None
    else:
        with beating(store, Queue.TRAINING, running_on, []):
            assert finetune(job_id, {"max_steps": 3}) is None
    stored = store.get(job_id)
    assert stored is not None and stored.status is JobStatus.FAILED, stored
    assert stored.error is not None and stored.error["type"] == "WorkerLost"


@pytest.mark.parametrize(
    ("raised", "reported_type", "reported"),
    [
        (UsageError("max_steps must be at most 5000"), "UsageError", "max_steps must be at most 5000"),
        (
            torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
            "OutOfMemory",
            "max_seq_len",
        ),
        (OSError(28, "No space left on device", "/srv/acme/models/llm/.tmp-v2"), "InternalError", "OSError"),
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you"
                " tried to allocate 2.00 GiB"
            ),
            "OutOfMemory",
            "batch_size",
        ),
        (DataUnavailableError("/srv/acme/data/squad/dev-v1.1.json.gz is not usable"), "InternalError", "job"),
    ],
)
def test_a_failed_job_reports_its_own_errors_and_no_other_errors_message(
    runtime_on: JobStore,
    queued_finetune: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    raised: Exception,
    reported_type: str,
    reported: str,
) -> None:
    """A library's or the system's error message (file paths of the worker's host) reached every
    client that read the job."""

    def fails(*_: object, **__: object) -> None:
        raise raised

    monkeypatch.setattr("training.squad.finetune", fails)
    store = runtime_on
    job_id = queued_finetune()
    with pytest.raises(type(raised)):
        finetune(job_id, {"max_steps": 3})
    stored = store.get(job_id)
    assert stored is not None and stored.status is JobStatus.FAILED and stored.error is not None
    assert stored.error["type"] == reported_type
    assert reported in stored.error["message"]
    assert "/srv/acme" not in stored.error["message"] and "2.00 GiB" not in stored.error["message"]


@pytest.mark.parametrize(("max_seq_len", "eval_rows"), [(2048, 4), (384, 16)])
def test_evaluation_batches_are_held_to_max_finetune_batch_tokens(
    runtime_on: JobStore,
    queued_finetune: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    max_seq_len: int,
    eval_rows: int,
) -> None:
    """16 rows of 2,048 tokens took 8 GB after every step had run, and the run failed there."""
    configs = []

    def records_its_config(_store: object, config: object, **_: object) -> None:
        configs.append(config)
        raise UsageError("stop here")

    monkeypatch.setattr("training.squad.finetune", records_its_config)
    with pytest.raises(UsageError):
        job_input = {"max_steps": 3, "batch_size": 4, "max_seq_len": max_seq_len}
        finetune(queued_finetune(job_input), job_input)
    assert configs[0].eval_batch_size == eval_rows  # MAX_FINETUNE_BATCH_TOKENS 8192 by default


def test_a_job_runs_its_recorded_input_not_the_messages(
    runtime_on: JobStore, queued_finetune: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API checked the recorded input (MAX_FINETUNE_STEPS, FINETUNE_API_KEYS); a message sent
    to the broker by other means (Flower's task API) with a queued job's id ran its own payload."""
    configs = []

    def records_its_config(_store: object, config: object, **_: object) -> None:
        configs.append(config)
        raise UsageError("stop here")

    monkeypatch.setattr("training.squad.finetune", records_its_config)
    job_id = queued_finetune({"max_steps": 3})
    with pytest.raises(UsageError):
        finetune(job_id, {"max_steps": 10**9, "learning_rate": 1.0})
    assert (configs[0].max_steps, configs[0].learning_rate) == (3, FinetuneConfig.learning_rate)


@pytest.fixture
def store_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MODEL_DIR and KEEP_FINETUNED_VERSIONS=2 for the runtime that ``runtime_on`` builds after it."""
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("KEEP_FINETUNED_VERSIONS", "2")
    return tmp_path


def test_a_finetune_that_succeeds_removes_the_finetuned_versions_past_the_kept_number(
    store_in_tmp: Path,
    runtime_on: JobStore,
    queued_finetune: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = ModelStore(store_in_tmp)
    with store.new_version(ModelName.LLM, {"kind": "import"}) as imported:
        pass

    def publishes(model_store: ModelStore, config: object, **_: object) -> ModelVersion:
        with model_store.new_version(ModelName.LLM, {"kind": "finetuned", "metrics": {}}) as version:
            pass
        return model_store.published(version)

    monkeypatch.setattr("training.squad.finetune", publishes)
    results = [finetune(queued_finetune(), {"max_steps": 3}) for _ in range(3)]
    kept = [imported.version, results[-2]["version"], results[-1]["version"]]
    assert [v.version for v in store.versions(ModelName.LLM)] == kept


def test_a_finetune_spares_the_old_version_a_live_inference_worker_holds(
    store_in_tmp: Path,
    runtime_on: JobStore,
    queued_finetune: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The newer versions failed to load on every worker, which answers with the first: it stays,
    for a worker that restarts to fall back to."""
    store = ModelStore(store_in_tmp)

    def publishes(model_store: ModelStore, config: object, **_: object) -> ModelVersion:
        with model_store.new_version(ModelName.LLM, {"kind": "finetuned", "metrics": {}}) as version:
            pass
        return model_store.published(version)

    monkeypatch.setattr("training.squad.finetune", publishes)
    first = finetune(queued_finetune(), {"max_steps": 3})["version"]
    runtime_on.heartbeat(
        Queue.INFERENCE, "inference@elsewhere", {"models": {"llm": {"version": first, "loads": 1}}}, ttl=60
    )
    try:
        later = [finetune(queued_finetune(), {"max_steps": 3})["version"] for _ in range(3)]
        assert [v.version for v in store.versions(ModelName.LLM)] == [first, *later[-2:]]
    finally:  # no live worker left behind for the tests that count them
        runtime_on.client.delete(heartbeat_key(Queue.INFERENCE, "inference@elsewhere"))


def test_a_copy_delivered_to_the_process_that_runs_the_job_is_dropped(
    runtime_on: JobStore, queued_finetune: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker connection that dropped had kombu put the unacknowledged message back, and the
    same worker ran the job a second time beside the first (a streaming job was failed)."""
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def blocks(model_store: ModelStore, config: object, **_: object) -> None:
        runs.append(1)
        started.set()
        release.wait(10)
        raise UsageError("ended")

    monkeypatch.setattr("training.squad.finetune", blocks)
    job_id = queued_finetune()
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(finetune, job_id, {"max_steps": 3})
        assert started.wait(10)
        assert finetune(job_id, {"max_steps": 3}) is None  # the copy
        release.set()
        with pytest.raises(UsageError):
            first.result()
    assert runs == [1]
    stored = runtime_on.get(job_id)
    assert stored is not None and stored.status is JobStatus.FAILED and stored.error["message"] == "ended"


def test_a_finetune_lost_after_it_published_its_version_ends_succeeded(
    store_in_tmp: Path, runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    """A process killed between publishing the version and recording the job's success (Celery's
    hard time limit, the OOM killer) left the job failed with "no model version was published"
    while the version was served."""
    store = runtime_on
    job_id, other = queued_finetune(), queued_finetune()
    for lost in (job_id, other):
        assert store.start(lost, worker="training@lost-host") is not None
    with ModelStore(store_in_tmp).new_version(
        ModelName.LLM, {"kind": "finetuned", "job_id": job_id, "metrics": {"f1": 0.5}}
    ) as published:
        pass
    for lost in (job_id, other):
        assert finetune(lost, {"max_steps": 3}) is None  # the broker's second delivery
    succeeded, failed = store.get(job_id), store.get(other)
    assert succeeded is not None and succeeded.status is JobStatus.SUCCEEDED
    assert succeeded.result == {"model": "llm", "version": published.version, "metrics": {"f1": 0.5}}
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error["type"] == "WorkerLost"


def test_a_finetune_cancelled_while_it_ran_and_lost_with_its_worker_ends_cancelled(
    runtime_on: JobStore, queued_finetune: Callable[[], str], redis_url: str
) -> None:
    """The user cancelled it (DELETE answered 202), then its worker died before the next step: it
    ended failed (WorkerLost), as though the cancel had never been heard."""
    store = runtime_on
    job_id = queued_finetune()
    assert store.start(job_id, worker="training@lost-host") is not None
    assert AsyncStoreRunner(redis_url).request_cancel(job_id) is JobStatus.RUNNING
    assert finetune(job_id, {"max_steps": 3}) is None  # the broker's second delivery
    stored = store.get(job_id)
    assert stored is not None and stored.status is JobStatus.CANCELLED
    assert stored.error is not None and stored.error["type"] == "Cancelled"


def test_a_finetune_whose_stopping_worker_was_killed_before_its_next_batch_says_so(
    runtime_on: JobStore, queued_finetune: Callable[[], str]
) -> None:
    """Its worker, stopping, had asked it to stop, and the stop's grace ran out first: "lost
    mid-run (killed or out of memory)" sent its user looking for a fault."""
    store = runtime_on
    asked, lost = queued_finetune(), queued_finetune()
    for job_id in (asked, lost):
        assert store.start(job_id, worker="training@stopped-host") is not None
    assert store.request_stop_for_shutdown(asked) is JobStatus.RUNNING
    for job_id in (asked, lost):
        assert finetune(job_id, {"max_steps": 3}) is None  # the broker's second delivery
    stopped, killed = store.get(asked), store.get(lost)
    assert stopped is not None and stopped.status is JobStatus.FAILED and stopped.error is not None
    assert stopped.error["type"] == "WorkerLost"
    assert stopped.error["message"] == STOPPED_TOO_LATE_MESSAGE
    assert killed is not None and killed.error is not None and killed.error["message"] == LOST_MESSAGE
