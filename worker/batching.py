"""Group concurrent jobs for the same model into one batched forward pass.

The inference worker runs many Celery tasks at once (thread pool). Each task submits its input
here and waits for its own result; one thread per model collects whatever is waiting, up to
``max_batch_size`` inputs or ``max_wait`` seconds after the first, runs the model once on the
whole list and hands each job its own output, as TGI's ``Batch`` does. An input whose caller
gave up (``abandon``, past the time limit) before its batch ran is dropped unrun: while it waited
in the queue, while it was held over for the next batch, or before a failed batch's inputs run
again one by one. A generator asks as it goes whether each row is still wanted, and stops those
that are not.

A batch also holds at most ``max_batch_chars`` characters of input ``text`` (the extractor's),
as TGI bounds a batch's tokens: 32 texts at the size limit would otherwise run as one long pass
that every one of them waits for. An input that would overflow the batch starts the next one
(already marked running: its caller can no longer cancel it); one longer than the budget runs alone.
The budget is divided by the model's ``text_cost``: the extractor with its echo member reads text
about ten times slower on a CPU, so its batches hold a tenth as much.

A batch that fails runs again one input at a time, so that an input the model cannot take fails
its own job, not the jobs batched with it; an input that has already streamed tokens fails instead.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from shared.model_registry import ModelName

logger = logging.getLogger(__name__)

TokenCallback = Callable[[str], None]
# Answers one input before its batch ends (an LLM row that has all its tokens).
EarlyAnswer = Callable[[dict[str, Any]], None]
# (model, inputs, each input's token callback, each input's "is it still wanted?", each input's
# early answer) -> outputs
RunBatch = Callable[
    [
        ModelName,
        list[dict[str, Any]],
        list[TokenCallback | None],
        list[Callable[[], bool]],
        list[EarlyAnswer],
    ],
    list[dict[str, Any]],
]


# A failed batch's inputs run again in halves down to this many, then each alone.
RUN_ALONE_AT_MOST = 4


class JobFuture(Future[dict[str, Any]]):
    """A job's answer; ``abandoned`` once its caller stopped waiting after the batcher took it."""

    abandoned = False


class AbandonedError(Exception):
    """The caller stopped waiting before the input ran; nobody reads this answer."""


@dataclass
class _Pending:
    input: dict[str, Any]
    on_token: TokenCallback | None = None
    future: JobFuture = field(default_factory=JobFuture)


def _chars(pending: _Pending) -> int:
    return len(pending.input.get("text", ""))


class BatchScheduler:
    def __init__(
        self,
        run_batch: RunBatch,
        max_batch_size: int,
        max_wait: float,
        max_batch_chars: int | None = None,
        text_cost: Callable[[ModelName], float] = lambda model: 1.0,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.max_batch_chars = max_batch_chars
        self.text_cost = text_cost
        self._queues: dict[ModelName, queue.Queue[_Pending]] = {}
        self._next_first: dict[ModelName, _Pending] = {}  # taken from the queue, left out of a full batch
        self._lock = threading.Lock()
        self.batch_sizes: Counter[int] = Counter()
        self.dropped = 0  # inputs whose callers gave up before they ran
        self._batch_started: dict[ModelName, float] = {}  # when each model's running batch began

    def submit(
        self, model: ModelName, item: dict[str, Any], on_token: TokenCallback | None = None
    ) -> JobFuture:
        """Queue one input; ``on_token`` receives generated text pieces as they are produced."""
        pending = _Pending(item, on_token)
        self._queue_for(model).put(pending)
        return pending.future

    def abandon(self, future: JobFuture) -> None:
        """The caller stops waiting: an input not run yet will not be."""
        if not future.cancel():  # already taken into a batch
            future.abandoned = True

    def _queue_for(self, model: ModelName) -> queue.Queue[_Pending]:
        with self._lock:
            if model not in self._queues:
                self._queues[model] = queue.Queue()
                thread = threading.Thread(
                    target=self._serve, args=(model,), name=f"batch-{model.value}", daemon=True
                )
                thread.start()
            return self._queues[model]

    def _collect(self, model: ModelName) -> list[_Pending]:
        """Inputs still wanted, marked running so that their callers can no longer cancel them."""
        waiting = self._queues[model]
        first = self._next_first.pop(model, None)
        if first is not None and self._dropped_as_abandoned(first):
            first = None
        while first is None:
            first = waiting.get()
            first = first if self._still_wanted(first) else None
        batch, chars = [first], _chars(first)
        budget = None if self.max_batch_chars is None else self.max_batch_chars / self._text_cost(model)
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                pending = waiting.get(timeout=remaining) if remaining > 0 else waiting.get_nowait()
            except queue.Empty:
                break
            if not self._still_wanted(pending):
                continue
            if budget is not None and chars + _chars(pending) > budget:
                self._next_first[model] = pending
                break
            batch.append(pending)
            chars += _chars(pending)
        return batch

    def _text_cost(self, model: ModelName) -> float:
        try:
            return self.text_cost(model)
        except Exception:  # the inputs taken must still run (and report what is wrong, if anything)
            logger.exception("could not tell the text cost of %s: taken as 1", model.value)
            return 1.0

    def _still_wanted(self, pending: _Pending) -> bool:
        """False for an input its caller cancelled; else marks it running (no longer cancellable)."""
        wanted = pending.future.set_running_or_notify_cancel()
        self.dropped += not wanted
        return wanted

    def _dropped_as_abandoned(self, pending: _Pending) -> bool:
        """True, and its answer closed unrun, for an input taken from the queue whose caller has
        since stopped waiting."""
        if pending.future.abandoned:
            pending.future.set_exception(AbandonedError("the caller stopped waiting"))
            self.dropped += 1
        return pending.future.abandoned

    def _serve(self, model: ModelName) -> None:
        while True:
            batch: list[_Pending] = []
            try:
                batch = self._collect(model)
                self.batch_sizes[len(batch)] += 1
                self._batch_started[model] = time.monotonic()
                self._answer(model, batch)
            except Exception as error:  # this thread serves every later input of the model: it lives on
                logger.exception("the batcher of %s failed", model.value)
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
            finally:
                self._batch_started.pop(model, None)

    def running_longer_than(self, seconds: float) -> dict[str, float]:
        """The models whose batch has run more than ``seconds``, and for how long."""
        now = time.monotonic()
        running = dict(self._batch_started)  # the batcher threads change it
        return {
            model.value: round(now - started, 1)
            for model, started in running.items()
            if now - started > seconds
        }

    def _answer(self, model: ModelName, batch: list[_Pending]) -> None:
        """Run the batch and answer each input. Where the batch fails, the inputs that have sent no
        generated token run again, each half as a batch of its own (a few: each alone), so that
        one bad input fails only its own job; one that has sent tokens fails (a second run would
        send them twice)."""
        streamed: set[int] = set()
        answered: set[int] = set()  # early, by the model, before the batch ended

        def answer_early(row: int) -> EarlyAnswer:
            def answer(output: dict[str, Any]) -> None:
                if row not in answered:
                    answered.add(row)
                    batch[row].future.set_result(output)

            return answer

        def streaming(row: int, on_token: TokenCallback | None) -> TokenCallback | None:
            if on_token is None:
                return None

            def send(piece: str) -> None:
                streamed.add(row)
                on_token(piece)

            return send

        try:
            outputs = self._run_batch(
                model,
                [p.input for p in batch],
                [streaming(row, p.on_token) for row, p in enumerate(batch)],
                [lambda p=p: not p.future.abandoned for p in batch],  # type: ignore[misc]
                [answer_early(row) for row in range(len(batch))],
            )
            if len(outputs) != len(batch):
                raise RuntimeError(f"{model.value} returned {len(outputs)} outputs for {len(batch)} inputs")
        except Exception as error:  # every waiting job must hear about the failure
            logger.exception("batch of %d for %s failed", len(batch), model.value)
            unanswered = [row for row in range(len(batch)) if row not in answered]
            run_again = [row for row in unanswered if row not in streamed] if len(batch) > 1 else []
            for row in unanswered:
                if row not in run_again:
                    batch[row].future.set_exception(error)
            again = [batch[row] for row in run_again if not self._dropped_as_abandoned(batch[row])]
            if len(again) <= RUN_ALONE_AT_MOST:
                for pending in again:
                    self._answer(model, [pending])
            else:  # each half as a batch: one bad input of 32 costs 10 runs, not 32 runs alone
                self._answer(model, again[: len(again) // 2])
                self._answer(model, again[len(again) // 2 :])
            return
        for row, (pending, output) in enumerate(zip(batch, outputs, strict=True)):
            if row not in answered:
                pending.future.set_result(output)
