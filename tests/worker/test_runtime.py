"""A worker process holds one runtime, one model cache and one batcher, however many task threads
ask for them at once when the worker starts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.job_store import JobStore
from shared.model_registry import ModelName
from worker import runtime as runtime_module
from worker.runtime import get_runtime, reset_runtime


@pytest.fixture
def slow_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A runtime that takes a moment to build, as it does when the job store connects."""
    connect = JobStore.from_url

    def slow_connect(*args: object, **kwargs: object) -> JobStore:
        time.sleep(0.05)
        return connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime_module.JobStore, "from_url", slow_connect)
    reset_runtime()
    yield
    reset_runtime()


def test_threads_that_ask_together_share_one_runtime_and_one_batcher(slow_start: None) -> None:
    with ThreadPoolExecutor(16) as pool:
        runtimes = list(pool.map(lambda _: get_runtime(), range(16)))
        batchers = list(pool.map(lambda _: get_runtime().batcher, range(16)))
    assert len({id(r) for r in runtimes}) == 1
    assert len({id(b) for b in batchers}) == 1


def test_a_batch_that_failed_with_a_timeout_error_fails_its_job_at_once(
    runtime_on: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's TimeoutError (an OSError of a network mount) read as "not answered yet": the job
    asked Redis for a cancel in a busy loop until INFERENCE_TIME_LIMIT, then failed."""
    runtime = get_runtime()

    def timed_out(*_: object) -> list[dict]:
        raise TimeoutError(110, "Connection timed out: the model store's mount")

    monkeypatch.setattr(runtime, "_run_batch", timed_out)
    monkeypatch.setattr(runtime.settings, "inference_time_limit", 3)
    polls: list[int] = []
    job = {"start_word": "the", "length": 3}
    with pytest.raises(TimeoutError, match="model store's mount"):
        runtime.predict(ModelName.BIGRAM, job, cancelled=lambda: polls.append(1))
    assert len(polls) <= 2


def test_a_batch_counts_as_hung_later_where_the_limits_allow_larger_forward_passes() -> None:
    default = runtime_module.stuck_after(25)
    assert default == 100
    assert runtime_module.stuck_after(25, runtime_module.DEFAULT_LARGEST_FORWARD_CHARS // 2) == default
    # ten times the text in one forward pass: ten times as long before it counts as hung
    assert runtime_module.stuck_after(25, 10 * runtime_module.DEFAULT_LARGEST_FORWARD_CHARS) == 10 * default
    assert runtime_module.stuck_after(1) == 60
