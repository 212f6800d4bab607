"""The model cache loads a version once and swaps in a newer one when the store publishes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from worker.model_cache import ModelCache, ModelNotReadyError
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
    with pytest.raises(FileNotFoundError):
        cache.get(ModelName.RNN)  # each job for it reports the error
