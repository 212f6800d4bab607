"""What one worker process holds for its whole life: job store, model cache, batcher.

Built on first use inside the process that serves jobs (never at import time, never in a parent
before a fork), so no CUDA state crosses a fork.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import wait as wait_for_futures
from typing import Any, TypeVar

from shared.client_errors import ClientFacingError
from shared.config import Settings, get_settings
from shared.job_store import JobStore
from shared.model_registry import GENERATORS, ModelName
from shared.model_store import ModelStore
from training.device import get_device
from worker import metrics
from worker.batching import BatchScheduler, EarlyAnswer, TokenCallback
from worker.model_cache import ModelCache
from worker.predictors import Predictor, text_cost_of
from worker.token_stream import TokenStreamWriter

logger = logging.getLogger(__name__)
T = TypeVar("T")


# How often a running inference job asks whether its user cancelled it: an LLM row then stops
# at its next token, and any other input's answer is dropped.
CANCEL_POLL_SECONDS = 0.5


# The largest text one forward pass takes under the default limits (MAX_BATCH_CHARS), which
# ``stuck_after``'s four time limits were sized for.
DEFAULT_LARGEST_FORWARD_CHARS: int = Settings.model_fields["max_batch_chars"].default


def stuck_after(
    inference_time_limit: float, largest_forward_chars: int = DEFAULT_LARGEST_FORWARD_CHARS
) -> float:
    """How long a batch runs before it counts as hung: by the time limit each of its inputs has been
    given up (a generator stops at its next token once none is wanted), and no batch the text budget
    allows takes four times as long. A forward pass cannot stop half-way, so limits that let one take
    more text than the defaults (``largest_forward_chars``: MAX_BATCH_CHARS, or MAX_TEXT_CHARS where an
    input that long runs alone) give it as much more time."""
    more_text = max(1.0, largest_forward_chars / DEFAULT_LARGEST_FORWARD_CHARS)
    return max(60.0, 4 * inference_time_limit) * more_text


class InferenceTimeLimitError(ClientFacingError, TimeoutError):
    """The job's batch did not finish within INFERENCE_TIME_LIMIT seconds."""


class JobCancelledError(Exception):
    """Raised inside a task body when the user cancelled the job."""


class WorkerRuntime:
    """Device and models are created on first use, so a parent process that only forks never has them."""

    def __init__(self) -> None:
        self.settings = get_settings()
        self.job_store = JobStore.from_url(self.settings.redis_url, self.settings.result_ttl)
        self.model_store = ModelStore(self.settings.model_dir)
        self._building = threading.Lock()
        # The version each model's next batch was sized for: its batch runs on it, though a newer
        # one may finish loading meanwhile (one batcher thread per model: sized, then run).
        self._sized_for: dict[ModelName, Predictor] = {}

    def _once(self, name: str, build: Callable[[], T]) -> T:
        """Build an attribute on first use, once even when the task threads all ask at the start
        (functools.cached_property does not lock from Python 3.12 on): two batchers would split
        the jobs between them, two model caches hold every model twice."""
        if name not in self.__dict__:
            with self._building:
                if name not in self.__dict__:
                    self.__dict__[name] = build()
        return self.__dict__[name]  # type: ignore[no-any-return]

    @property
    def models(self) -> ModelCache:
        return self._once("models", lambda: ModelCache(self.model_store, get_device()))

    @property
    def batcher(self) -> BatchScheduler:
        return self._once(
            "batcher",
            lambda: BatchScheduler(
                self._run_batch,
                max_batch_size=self.settings.max_batch_size,
                max_wait=self.settings.batch_wait_ms / 1000,
                max_batch_chars=self.settings.max_batch_chars,
                text_cost=self._text_cost,
            ),
        )

    @property
    def token_streams(self) -> TokenStreamWriter:
        return self._once("token_streams", lambda: TokenStreamWriter(self.job_store))

    def _text_cost(self, model: ModelName) -> float:
        """The cost of the version the batch will run: the one the store serves now, loaded first
        if it is not in memory. Read from the version in memory, a first batch after a swap to the
        extractor with its echo member would take ten times too much text for it."""
        try:
            predictor = self._sized_for[model] = self.models.get(model)
        except Exception:  # no version, or a broken one: the batch itself reports it
            # (no model cache at all, DEVICE=cuda with no GPU, raises here too: the batcher takes 1)
            self._sized_for.pop(model, None)
            return text_cost_of(self.models.loaded(model))
        return text_cost_of(predictor)

    def _run_batch(
        self,
        model: ModelName,
        inputs: list[dict[str, Any]],
        on_token: list[TokenCallback | None],
        wanted: list[Callable[[], bool]],
        answer_early: list[EarlyAnswer],
    ) -> list[dict[str, Any]]:
        predictor = self._sized_for.pop(model, None) or self.models.get(model)
        started = time.perf_counter()

        def labelled(output: dict[str, Any]) -> dict[str, Any]:
            return {**output, "model": model.value, "model_version": predictor.version}

        if model is ModelName.LLM:

            def route(row: int, piece: str) -> None:
                callback = on_token[row]
                if callback is not None:
                    callback(piece)

            outputs = predictor.predict_batch(  # type: ignore[call-arg]
                inputs,
                on_token=route if any(on_token) else None,
                wanted=lambda row: wanted[row](),
                on_row_done=lambda row, output: answer_early[row](labelled(output)),
            )
        else:
            outputs = predictor.predict_batch(inputs)
        generated = (
            sum(
                int(out.get("generated_tokens", item.get("length", 0)))
                for item, out in zip(inputs, outputs, strict=True)
            )
            if model in GENERATORS
            else 0
        )
        metrics.record_batch(model.value, len(inputs), time.perf_counter() - started, generated)
        return [labelled(output) for output in outputs]

    def predict(
        self,
        model: ModelName,
        item: dict[str, Any],
        on_token: TokenCallback | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> dict[str, Any]:
        """The model's answer for one input, run in a batch with whatever else waits for it.

        ``cancelled`` is asked every CANCEL_POLL_SECONDS while the answer is awaited: once it says
        so, the input is abandoned (not run if it has not started; an LLM row stops generating)."""
        # Against the LLM in memory (no store look-up on this path; the batch checks again): one
        # that outgrows its context fails alone, not the batch it would join.
        llm = self.models.loaded(model) if model is ModelName.LLM else None
        if llm is not None:
            llm.check_fits([item])  # type: ignore[attr-defined]
        future = self.batcher.submit(model, item, on_token)
        limit = self.settings.inference_time_limit
        deadline = time.monotonic() + limit
        while (remaining := deadline - time.monotonic()) > 0:
            # not future.result(timeout): a batch that failed with a TimeoutError (an OSError of a
            # network mount) would read as "not answered yet" until the time limit
            done, _ = wait_for_futures([future], timeout=min(CANCEL_POLL_SECONDS, remaining))
            if done:
                return future.result()
            if cancelled():
                self.batcher.abandon(future)
                raise JobCancelledError("cancelled while running")
        if future.done():  # answered while the cancel check ran
            return future.result()
        self.batcher.abandon(future)  # not run yet: it will not be
        raise InferenceTimeLimitError(
            f"{model.value} did not answer within INFERENCE_TIME_LIMIT={limit} s; the worker may be "
            "overloaded: ask for less (a smaller length) or raise the limit"
        )

    def status(self) -> dict[str, Any]:
        """What this process has loaded and served; empty in a parent that only forks."""
        if "models" not in self.__dict__:
            return {}
        return {
            "device": str(self.models.device),
            "models": self.models.snapshot(),
            "batch_sizes": {str(size): count for size, count in sorted(self.batcher.batch_sizes.items())},
            "dropped_inputs": self.batcher.dropped,
            "stuck_batches": self.batcher.running_longer_than(
                stuck_after(
                    self.settings.inference_time_limit,
                    max(self.settings.max_batch_chars, self.settings.max_text_chars),
                )
            ),
        }


_runtime_lock = threading.Lock()
_runtime: WorkerRuntime | None = None


def get_runtime() -> WorkerRuntime:
    """This process's runtime, built once even though the preload thread and the first task
    threads ask for it together (functools.lru_cache would not lock: each could build its own)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = WorkerRuntime()
        return _runtime


def reset_runtime() -> None:
    """Forget the runtime, so that the next one reads the settings anew (tests that change them)."""
    global _runtime
    with _runtime_lock:
        _runtime = None
