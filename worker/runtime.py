"""What one worker process holds for its whole life: job store, model cache, batcher.

Built on first use inside the process that serves jobs (never at import time, never in a parent
before a fork), so no CUDA state crosses a fork.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import TimeoutError as FutureTimeoutError
from functools import cached_property, lru_cache
from typing import Any

from shared.config import get_settings
from shared.job_store import JobStore
from shared.model_registry import GENERATORS, ModelName
from shared.model_store import ModelStore
from training.device import get_device
from worker import metrics
from worker.batching import BatchScheduler, TokenCallback
from worker.model_cache import ModelCache
from worker.predictors import text_cost_of

logger = logging.getLogger(__name__)


class InferenceTimeLimitError(TimeoutError):
    """The job's batch did not finish within INFERENCE_TIME_LIMIT seconds."""


class WorkerRuntime:
    """Device and models are created on first use, so a parent process that only forks never has them."""

    def __init__(self) -> None:
        self.settings = get_settings()
        self.job_store = JobStore.from_url(self.settings.redis_url, self.settings.result_ttl)
        self.model_store = ModelStore(self.settings.model_dir)

    @cached_property
    def models(self) -> ModelCache:
        return ModelCache(self.model_store, get_device())

    @cached_property
    def batcher(self) -> BatchScheduler:
        return BatchScheduler(
            self._run_batch,
            max_batch_size=self.settings.max_batch_size,
            max_wait=self.settings.batch_wait_ms / 1000,
            max_batch_chars=self.settings.max_batch_chars,
            text_cost=lambda model: text_cost_of(self.models.loaded(model)),
        )

    def _run_batch(
        self, model: ModelName, inputs: list[dict[str, Any]], on_token: list[TokenCallback | None]
    ) -> list[dict[str, Any]]:
        predictor = self.models.get(model)
        started = time.perf_counter()
        if any(on_token) and model is ModelName.LLM:

            def route(row: int, piece: str) -> None:
                callback = on_token[row]
                if callback is not None:
                    callback(piece)

            outputs = predictor.predict_batch(inputs, on_token=route)  # type: ignore[call-arg]
        else:
            outputs = predictor.predict_batch(inputs)
        generated = sum(int(item.get("length", 0)) for item in inputs) if model in GENERATORS else 0
        metrics.record_batch(model.value, len(inputs), time.perf_counter() - started, generated)
        return [{**output, "model": model.value, "model_version": predictor.version} for output in outputs]

    def predict(
        self, model: ModelName, item: dict[str, Any], on_token: TokenCallback | None = None
    ) -> dict[str, Any]:
        future = self.batcher.submit(model, item, on_token)
        limit = self.settings.inference_time_limit
        try:
            return future.result(timeout=limit)
        except FutureTimeoutError:
            future.cancel()  # still waiting for a batch: it will not run
            raise InferenceTimeLimitError(
                f"{model.value} did not answer within INFERENCE_TIME_LIMIT={limit} s; the worker may be "
                "overloaded: ask for less (a smaller length) or raise the limit"
            ) from None

    def status(self) -> dict[str, Any]:
        """What this process has loaded and served; empty in a parent that only forks."""
        if "models" not in self.__dict__:
            return {}
        return {
            "device": str(self.models.device),
            "models": self.models.snapshot(),
            "batch_sizes": {str(size): count for size, count in sorted(self.batcher.batch_sizes.items())},
            "dropped_inputs": self.batcher.dropped,
        }


@lru_cache
def get_runtime() -> WorkerRuntime:
    return WorkerRuntime()
