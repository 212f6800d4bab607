"""The model cache loads a version once and swaps in a newer one when the store publishes it."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
import torch

from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from tests.worker.test_batching import wait_until
from worker.model_cache import (
    RETRY_FAILED_LOAD_S,
    RETRY_OUT_OF_MEMORY_LOAD_S,
    ModelCache,
    ModelLoadError,
    ModelNotReadyError,
)
from worker.predictors import text_cost_of


class EchoPredictor:
    def __init__(self, version: ModelVersion) -> None:
        self.version = version.version
        self.greeting = (version.path / "greeting.txt").read_text()

    def predict_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"generated_text": f"{self.greeting} {item['start_word']}"} for item in inputs]


def publish(store: ModelStore, greeting: str) -> str:
    with store.new_version(ModelName.BIGRAM, {}) as version:
        (version.path / "greeting.txt").write_text(greeting)
    return version.version


def make_cache(store: ModelStore) -> ModelCache:
    return ModelCache(store, torch.device("cpu"), loader_for=lambda name: lambda v, d: EchoPredictor(v))


def test_second_request_reuses_the_loaded_model(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    publish(store, "hello")
    cache = make_cache(store)
    first = cache.get(ModelName.BIGRAM)
    second = cache.get(ModelName.BIGRAM)
    assert first is second
    assert cache.stats[ModelName.BIGRAM].loads == 1


def test_two_models_never_load_at_once(tmp_path: Path) -> None:
    """transformers builds a model under a process-wide "empty weights" context: the LLM preloading
    while the first extraction job loaded the extractor got meta tensors and failed to load."""
    store = ModelStore(tmp_path)
    for name in (ModelName.BIGRAM, ModelName.RNN):
        with store.new_version(name, {}) as version:
            (version.path / "greeting.txt").write_text(name.value)
    inside: list[str] = []
    overlapped: list[tuple[str, ...]] = []
    first_inside = threading.Event()

    def load(version: ModelVersion, _device: torch.device) -> EchoPredictor:
        inside.append(version.path.parent.name)
        if len(inside) > 1:
            overlapped.append(tuple(inside))
        first_inside.set()
        time.sleep(0.3)  # a load takes a while: the other one asks meanwhile
        inside.remove(version.path.parent.name)
        return EchoPredictor(version)

    cache = ModelCache(store, torch.device("cpu"), loader_for=lambda name: load)
    bigram = threading.Thread(target=cache.get, args=(ModelName.BIGRAM,))
    bigram.start()
    assert first_inside.wait(10)
    assert cache.get(ModelName.RNN).greeting == "rnn"
    bigram.join(10)
    assert overlapped == []
    assert cache.get(ModelName.BIGRAM).greeting == "bigram"


def test_what_is_loaded_is_told_without_loading(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    publish(store, "hello")
    cache = make_cache(store)
    assert cache.loaded(ModelName.BIGRAM) is None
    assert cache.stats[ModelName.BIGRAM].loads == 0
    predictor = cache.get(ModelName.BIGRAM)
    assert cache.loaded(ModelName.BIGRAM) is predictor
    assert text_cost_of(predictor) == text_cost_of(None) == 1.0  # it says nothing of its cost


def test_new_version_is_loaded_without_restart(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    publish(store, "hello")
    cache = make_cache(store)
    assert cache.get(ModelName.BIGRAM).predict_batch([{"start_word": "x"}]) == [{"generated_text": "hello x"}]
    newer = publish(store, "bonjour")
    predictor = cache.get(ModelName.BIGRAM)
    assert predictor.version == newer
    assert predictor.predict_batch([{"start_word": "x"}]) == [{"generated_text": "bonjour x"}]
    assert cache.stats[ModelName.BIGRAM].loads == 2


def test_missing_model_says_how_to_get_it(tmp_path: Path) -> None:
    cache = make_cache(ModelStore(tmp_path))
    with pytest.raises(ModelNotReadyError, match=r"training\.bootstrap"):
        cache.get(ModelName.LLM)


def test_a_version_that_fails_to_load_does_not_stop_the_others_preloading(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    publish(store, "hello")
    with store.new_version(ModelName.RNN, {}):
        pass  # no greeting.txt: loading it raises
    cache = make_cache(store)
    cache.preload([ModelName.RNN, ModelName.LLM, ModelName.BIGRAM])
    assert cache.stats[ModelName.BIGRAM].loads == 1
    with pytest.raises(ModelLoadError, match="FileNotFoundError"):
        cache.get(ModelName.RNN)  # each job for it reports the error


def publish_broken(store: ModelStore) -> str:
    with store.new_version(ModelName.BIGRAM, {}) as version:
        pass  # no greeting.txt: loading it raises
    return version.version


class CountingLoads:
    def __init__(self) -> None:
        self.attempts = 0
        self.now = 0.0

    def cache(self, store: ModelStore) -> ModelCache:
        def load(version: ModelVersion, _device: torch.device) -> EchoPredictor:
            self.attempts += 1
            return EchoPredictor(version)

        return ModelCache(store, torch.device("cpu"), loader_for=lambda name: load, clock=lambda: self.now)


def test_a_broken_new_version_leaves_the_old_one_serving_and_is_not_loaded_for_every_batch(
    tmp_path: Path,
) -> None:
    store = ModelStore(tmp_path)
    good = publish(store, "hello")
    loads = CountingLoads()
    cache = loads.cache(store)
    cache.get(ModelName.BIGRAM)
    broken = publish_broken(store)
    for _ in range(5):  # batches, and each input of a failed batch run alone
        assert cache.get(ModelName.BIGRAM).version == good
    assert loads.attempts == 2
    assert cache.snapshot()["bigram"]["failed_version"] == broken
    # every API key reads it (GET /workers): the type, not a message naming the host's paths
    assert cache.snapshot()["bigram"]["failed_error"] == "FileNotFoundError"

    loads.now += RETRY_FAILED_LOAD_S
    assert cache.get(ModelName.BIGRAM).version == good
    assert loads.attempts == 3  # tried again once the pause is over

    newer = publish(store, "bonjour")
    assert cache.get(ModelName.BIGRAM).version == newer
    assert "failed_version" not in cache.snapshot()["bigram"]


def test_a_worker_starting_after_a_broken_version_was_published_serves_the_newest_good_one(
    tmp_path: Path,
) -> None:
    """One that had the older version in memory served it on; one that started after failed every
    job, though the store held a good version."""
    store = ModelStore(tmp_path)
    good = publish(store, "hello")
    broken = publish_broken(store)
    loads = CountingLoads()
    cache = loads.cache(store)
    for _ in range(3):
        assert cache.get(ModelName.BIGRAM).version == good
    assert loads.attempts == 2  # the broken one once, then the good one
    assert cache.snapshot()["bigram"]["failed_version"] == broken

    loads.now += RETRY_FAILED_LOAD_S
    assert cache.get(ModelName.BIGRAM).version == good
    assert loads.attempts == 3  # the broken one tried again once the pause is over, nothing more
    newer = publish(store, "bonjour")
    assert cache.get(ModelName.BIGRAM).version == newer
    assert "failed_version" not in cache.snapshot()["bigram"]


def test_with_nothing_in_memory_a_broken_version_fails_each_job_at_once_naming_it(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    broken = publish_broken(store)
    loads = CountingLoads()
    cache = loads.cache(store)
    for _ in range(3):
        with pytest.raises(ModelLoadError, match=f"version {broken} of 'bigram' could not be loaded"):
            cache.get(ModelName.BIGRAM)
    assert loads.attempts == 1


class CostlyPredictor(EchoPredictor):
    text_cost = 10.0


def test_the_batchers_text_budget_uses_the_served_versions_cost_from_the_first_batch(tmp_path: Path) -> None:
    from worker.runtime import WorkerRuntime

    store = ModelStore(tmp_path)
    runtime = WorkerRuntime()
    runtime.__dict__["models"] = ModelCache(
        store, torch.device("cpu"), loader_for=lambda name: lambda v, d: CostlyPredictor(v)
    )
    assert runtime.batcher.text_cost(ModelName.BIGRAM) == 1.0  # nothing to load: the batch reports it
    publish(store, "hello")
    assert runtime.models.loaded(ModelName.BIGRAM) is None
    assert runtime.batcher.text_cost(ModelName.BIGRAM) == 10.0


def test_a_newest_version_with_damaged_metadata_is_passed_over_for_the_one_before(tmp_path: Path) -> None:
    """As GET /models passes over it: a worker that starts then serves the version before it (it
    used to try the damaged one on every request, and serve nothing)."""
    store = ModelStore(tmp_path)
    good = publish(store, "hello")
    cache = make_cache(store)
    cache.get(ModelName.BIGRAM)
    damaged = publish(store, "bonjour")
    (store.model_dir(ModelName.BIGRAM) / damaged / "metadata.json").write_text("{")
    assert cache.get(ModelName.BIGRAM).version == good
    assert make_cache(store).get(ModelName.BIGRAM).version == good
    assert store.served_version(ModelName.BIGRAM).version == good


def test_after_a_swap_the_text_budget_is_that_of_the_version_the_batch_will_run(tmp_path: Path) -> None:
    """The first batch after the extractor's echo member lands used to be sized at the cost of the
    version still in memory, ten times too much text for the one that then ran it."""
    from worker.runtime import WorkerRuntime

    store = ModelStore(tmp_path)
    cheap = publish(store, "hello")
    runtime = WorkerRuntime()
    runtime.__dict__["models"] = ModelCache(
        store,
        torch.device("cpu"),
        loader_for=lambda name: lambda v, d: EchoPredictor(v) if v.version == cheap else CostlyPredictor(v),
    )
    assert runtime.batcher.text_cost(ModelName.BIGRAM) == 1.0
    assert runtime.models.loaded(ModelName.BIGRAM).version == cheap
    publish(store, "bonjour")
    assert runtime.batcher.text_cost(ModelName.BIGRAM) == 10.0


class HeldLoads:
    """Loads that wait until the test lets them finish: a large model's load, tens of seconds."""

    def __init__(self, fast_version: str) -> None:
        self.fast_version = fast_version
        self.release = threading.Event()
        self.started: list[str] = []

    def cache(self, store: ModelStore) -> ModelCache:
        def load(version: ModelVersion, _device: torch.device) -> EchoPredictor:
            self.started.append(version.version)
            if version.version != self.fast_version:
                assert self.release.wait(10), "the test never let the load finish"
            return EchoPredictor(version)

        return ModelCache(store, torch.device("cpu"), loader_for=lambda name: load, swap_wait_s=0.05)


def test_a_new_version_that_loads_slowly_leaves_the_old_one_serving_meanwhile(tmp_path: Path) -> None:
    """It loaded on the batcher's thread: every job for the model waited for the load."""
    store = ModelStore(tmp_path)
    old = publish(store, "hello")
    loads = HeldLoads(fast_version=old)
    cache = loads.cache(store)
    assert cache.get(ModelName.BIGRAM).version == old
    new = publish(store, "bonjour")
    for _ in range(5):
        assert cache.get(ModelName.BIGRAM).version == old
    assert loads.started == [old, new]  # one load of the new version, not one per batch
    # still loading: the load ends only when released (or fails after 10 s), so no get waited for it
    assert cache.snapshot()["bigram"]["loading_version"] == new  # GET /workers shows it

    newest = publish(store, "hola")  # published during the load: loaded once it is done
    assert cache.get(ModelName.BIGRAM).version == old
    assert loads.started == [old, new]
    loads.release.set()
    wait_until(lambda: "loading_version" not in cache.snapshot()["bigram"])  # loaded, and the load over
    assert cache.loaded(ModelName.BIGRAM).version == new
    assert cache.get(ModelName.BIGRAM).version == newest
    assert loads.started == [old, new, newest]
    assert cache.stats[ModelName.BIGRAM].loads == 3
    assert "loading_version" not in cache.snapshot()["bigram"]


def test_two_threads_asking_at_a_workers_start_while_it_falls_back_to_an_older_version_both_get_it(
    tmp_path: Path,
) -> None:
    """The preload thread and a queued job's batcher ask together; the first falls back to the
    version before a broken newest one. The second re-entered the model's lock and hung for good,
    with every later job for the model."""
    store = ModelStore(tmp_path)
    good = publish(store, "hello")
    publish_broken(store)

    def slow_load(version: ModelVersion, _device: torch.device) -> EchoPredictor:
        time.sleep(0.2)
        return EchoPredictor(version)

    cache = ModelCache(store, torch.device("cpu"), loader_for=lambda name: slow_load)
    got: list[str] = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get(ModelName.BIGRAM).version)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert got == [good, good]


class HalfLoadedModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weights = torch.nn.Parameter(torch.zeros(1000))


def test_a_failed_load_does_not_keep_its_half_built_model_in_memory(tmp_path: Path) -> None:
    """The failure is remembered (for GET /workers, and not to retry at once); its traceback held
    the loader's frames, and with them the weights already built (on a GPU, already moved there)."""
    store = ModelStore(tmp_path)
    publish(store, "hello")
    broken = publish_broken(store)
    built: list[weakref.ref[torch.nn.Parameter]] = []

    def load(version: ModelVersion, _device: torch.device) -> EchoPredictor:
        model = HalfLoadedModel()
        built.append(weakref.ref(model.weights))
        predictor = EchoPredictor(version)  # no greeting.txt in the broken one: raises here
        predictor.model = model  # type: ignore[attr-defined]
        return predictor

    cache = ModelCache(store, torch.device("cpu"), loader_for=lambda name: load)
    cache.get(ModelName.BIGRAM)
    assert cache.snapshot()["bigram"]["failed_version"] == broken
    gc.collect()
    assert built[0]() is None, "the failed load's weights are still referenced"
    assert built[1]() is not None  # those of the version serving


def test_a_version_too_large_beside_the_one_in_memory_is_tried_again_only_much_later(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    good = publish(store, "hello")
    loads = CountingLoads()

    def load(version: ModelVersion, _device: torch.device) -> EchoPredictor:
        loads.attempts += 1
        if version.version != good:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return EchoPredictor(version)

    cache = ModelCache(store, torch.device("cpu"), loader_for=lambda name: load, clock=lambda: loads.now)
    cache.get(ModelName.BIGRAM)
    publish(store, "bonjour")
    assert cache.get(ModelName.BIGRAM).version == good
    loads.now += 2 * RETRY_FAILED_LOAD_S
    assert cache.get(ModelName.BIGRAM).version == good
    assert loads.attempts == 2  # each retry allocates it all again beside the batches running
    loads.now += RETRY_OUT_OF_MEMORY_LOAD_S
    assert cache.get(ModelName.BIGRAM).version == good
    assert loads.attempts == 3  # what filled the memory may have passed


def test_a_batch_runs_on_the_version_it_was_sized_for_though_a_newer_one_loads_meanwhile(
    tmp_path: Path,
) -> None:
    """A load longer than the swap wait that ends while a batch is collected: the batch was sized
    for the old version's text cost and run by the new one, ten times too much text for it."""
    from worker.runtime import WorkerRuntime

    store = ModelStore(tmp_path)
    cheap = publish(store, "hello")
    release = threading.Event()

    def load(version: ModelVersion, _device: torch.device) -> EchoPredictor:
        if version.version == cheap:
            return EchoPredictor(version)
        release.wait(10)
        return CostlyPredictor(version)

    runtime = WorkerRuntime()
    runtime.settings = runtime.settings.model_copy(update={"max_batch_chars": 4000, "batch_wait_ms": 300})
    runtime.__dict__["models"] = ModelCache(
        store, torch.device("cpu"), loader_for=lambda name: load, swap_wait_s=0.05
    )
    runtime.models.get(ModelName.BIGRAM)
    batches: list[tuple[float, int]] = []  # (the text cost of the version that ran it, its characters)
    run_batch = runtime._run_batch

    def recorded(model: ModelName, inputs: list[dict[str, Any]], *rest: Any) -> list[dict[str, Any]]:
        outputs = run_batch(model, inputs, *rest)
        ran_on_costly = outputs[0]["model_version"] != cheap
        batches.append((10.0 if ran_on_costly else 1.0, sum(len(i["text"]) for i in inputs)))
        return outputs

    runtime.batcher._run_batch = recorded  # type: ignore[method-assign]
    publish(store, "bonjour")
    item = {"text": "a" * 1000, "start_word": "x"}
    runtime.batcher.submit(ModelName.BIGRAM, item).result(5)  # starts the slow load
    threading.Timer(0.05, release.set).start()  # it ends while the next batch is collected
    for future in [runtime.batcher.submit(ModelName.BIGRAM, item) for _ in range(4)]:
        assert future.result(5)["model"] == "bigram"
    wait_until(lambda: text_cost_of(runtime.models.loaded(ModelName.BIGRAM)) == 10.0)
    assert runtime.batcher.submit(ModelName.BIGRAM, item).result(5)["model_version"] != cheap
    assert len(batches) >= 3
    for cost, chars in batches:
        assert chars <= 4000 / cost or chars == 1000  # within the budget of the version that ran it


def test_a_model_that_failed_to_load_with_none_in_memory_is_unservable_until_one_loads(
    tmp_path: Path,
) -> None:
    """The worker's heartbeat says it is not ready then (GET /ready): it said ready once its
    preloading ended, however that went, and every job for the model failed."""
    store = ModelStore(tmp_path)
    publish_broken(store)
    loads = CountingLoads()
    cache = loads.cache(store)
    cache.preload([ModelName.BIGRAM, ModelName.RNN])
    assert cache.unservable([ModelName.BIGRAM, ModelName.RNN]) == [ModelName.BIGRAM]  # rnn: no version yet
    publish(store, "hello")
    cache.get(ModelName.BIGRAM)
    assert cache.unservable([ModelName.BIGRAM]) == []


def test_a_preload_that_failed_is_tried_again_without_waiting_for_a_job(tmp_path: Path) -> None:
    """A worker not ready because of it gets no jobs (GET /ready) that would load it again."""
    store = ModelStore(tmp_path)
    publish(store, "hello")
    loads = CountingLoads()

    def flaky(version: ModelVersion, _device: torch.device) -> EchoPredictor:
        loads.attempts += 1
        if loads.attempts == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (the trainer held the card)")
        return EchoPredictor(version)

    cache = ModelCache(store, torch.device("cpu"), loader_for=lambda name: flaky, clock=lambda: loads.now)
    cache.preload([ModelName.BIGRAM])
    assert cache.unservable([ModelName.BIGRAM]) == [ModelName.BIGRAM]
    cache.retry_unservable([ModelName.BIGRAM])
    assert loads.attempts == 1  # not before its pause is over
    loads.now += RETRY_FAILED_LOAD_S
    cache.retry_unservable([ModelName.BIGRAM])
    assert cache.unservable([ModelName.BIGRAM]) == [] and loads.attempts == 2
