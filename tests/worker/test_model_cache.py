"""The model cache loads a version once and swaps in a newer one when the store publishes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from worker.model_cache import RETRY_FAILED_LOAD_S, ModelCache, ModelLoadError, ModelNotReadyError
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
