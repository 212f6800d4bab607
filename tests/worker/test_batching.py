"""The batcher groups concurrent inputs into one call and routes each output to its caller."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.model_registry import ModelName
from worker.batching import AbandonedError, BatchScheduler


class RecordingModel:
    """Upper-cases each text; remembers the batch sizes it was called with."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[int] = []
        self.gate = gate

    def __call__(
        self, model: ModelName, inputs: list[dict[str, Any]], on_token: list, wanted: list, answer_early: list
    ) -> list[dict[str, Any]]:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(len(inputs))
        return [{"text": item["text"].upper()} for item in inputs]


def test_each_caller_gets_its_own_output() -> None:
    model = RecordingModel()
    scheduler = BatchScheduler(model, max_batch_size=8, max_wait=0.05)
    with ThreadPoolExecutor(16) as pool:
        futures = [
            pool.submit(lambda i=i: scheduler.submit(ModelName.BIGRAM, {"text": f"t{i}"}).result(5))
            for i in range(16)
        ]
        outputs = [f.result() for f in futures]
    assert outputs == [{"text": f"T{i}"} for i in range(16)]
    assert sum(model.calls) == 16
    assert max(model.calls) > 1, "concurrent inputs were never batched"
    assert max(model.calls) <= 8


def test_inputs_waiting_during_a_batch_form_the_next_batch() -> None:
    gate = threading.Event()
    model = RecordingModel(gate)
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.0)
    first = scheduler.submit(ModelName.BIGRAM, {"text": "first"})
    waiting = [scheduler.submit(ModelName.BIGRAM, {"text": f"w{i}"}) for i in range(5)]
    gate.set()
    assert first.result(5) == {"text": "FIRST"}
    assert [f.result(5)["text"] for f in waiting] == [f"W{i}" for i in range(5)]
    assert model.calls[0] in (1, 6)
    assert sum(model.calls) == 6


def test_a_failing_model_fails_every_job() -> None:
    def broken(
        model: ModelName, inputs: list[dict[str, Any]], on_token: list, wanted: list, answer_early: list
    ) -> list[dict[str, Any]]:
        raise ValueError("model exploded")

    scheduler = BatchScheduler(broken, max_batch_size=4, max_wait=0.01)
    futures = [scheduler.submit(ModelName.RNN, {"text": "x"}) for _ in range(3)]
    for future in futures:
        with pytest.raises(ValueError, match="model exploded"):
            future.result(5)


class PickyModel(RecordingModel):
    """Fails any batch that holds the text "bad"; with ``stream``, sends a token first."""

    def __init__(self, gate: threading.Event, stream: bool = False) -> None:
        super().__init__(gate)
        self.stream = stream

    def __call__(
        self, model: ModelName, inputs: list[dict[str, Any]], on_token: list, wanted: list, answer_early: list
    ) -> list[dict[str, Any]]:
        if self.stream:
            for send in on_token:
                if send is not None:
                    send("piece")
        if any(item["text"] == "bad" for item in inputs):
            self.gate.wait(5)
            self.calls.append(len(inputs))
            raise ValueError("cannot read 'bad'")
        return super().__call__(model, inputs, on_token, wanted, answer_early)


def _batch_after_a_held_one(model: PickyModel, texts: list[str], gate: threading.Event) -> list:
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.0)
    first = scheduler.submit(ModelName.LLM, {"text": "first"}, on_token=lambda piece: None)
    while scheduler.batch_sizes.total() == 0:  # the first batch is running (held at the gate)
        time.sleep(0.001)
    futures = [scheduler.submit(ModelName.LLM, {"text": t}, on_token=lambda piece: None) for t in texts]
    gate.set()
    assert first.result(5) == {"text": "FIRST"}
    return futures


def test_one_bad_input_fails_only_its_own_job() -> None:
    gate = threading.Event()
    model = PickyModel(gate)
    good, bad, other = _batch_after_a_held_one(model, ["good", "bad", "other"], gate)
    assert good.result(5) == {"text": "GOOD"}
    assert other.result(5) == {"text": "OTHER"}
    with pytest.raises(ValueError, match="cannot read 'bad'"):
        bad.result(5)
    assert model.calls == [1, 3, 1, 1, 1]  # the batch of three, then each alone


def test_a_batch_that_failed_after_streaming_is_not_run_again() -> None:
    gate = threading.Event()
    model = PickyModel(gate, stream=True)
    futures = _batch_after_a_held_one(model, ["good", "bad"], gate)
    for future in futures:  # its tokens were sent: a second run would send them twice
        with pytest.raises(ValueError, match="cannot read 'bad'"):
            future.result(5)
    assert model.calls == [1, 2]


def test_after_a_failure_only_the_inputs_that_streamed_are_not_run_again() -> None:
    gate = threading.Event()
    model = PickyModel(gate, stream=True)
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.0)
    first = scheduler.submit(ModelName.LLM, {"text": "first"})
    while scheduler.batch_sizes.total() == 0:  # the first batch is running (held at the gate)
        time.sleep(0.001)
    bad = scheduler.submit(ModelName.LLM, {"text": "bad"}, on_token=lambda piece: None)
    quiet = scheduler.submit(ModelName.LLM, {"text": "quiet"})  # a job that does not stream
    gate.set()
    assert first.result(5) == {"text": "FIRST"}
    with pytest.raises(ValueError, match="cannot read 'bad'"):
        bad.result(5)
    assert quiet.result(5) == {"text": "QUIET"}
    assert model.calls == [1, 2, 1]


def test_an_input_whose_caller_gave_up_is_not_run() -> None:
    gate = threading.Event()
    model = RecordingModel(gate)
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.0)
    first = scheduler.submit(ModelName.BIGRAM, {"text": "first"})
    while scheduler.batch_sizes.total() == 0:  # the first batch is running (held at the gate)
        time.sleep(0.001)
    abandoned = scheduler.submit(ModelName.BIGRAM, {"text": "abandoned"})
    kept = scheduler.submit(ModelName.BIGRAM, {"text": "kept"})
    assert abandoned.cancel()
    gate.set()
    assert first.result(5) == {"text": "FIRST"}
    assert kept.result(5) == {"text": "KEPT"}
    assert model.calls == [1, 1]
    assert scheduler.dropped == 1


def test_a_batch_holds_at_most_max_batch_chars_of_text() -> None:
    gate = threading.Event()
    model = RecordingModel(gate)
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.0, max_batch_chars=100)
    first = scheduler.submit(ModelName.COURSE_EXTRACTOR, {"text": "a"})
    while scheduler.batch_sizes.total() == 0:  # the first batch is running (held at the gate)
        time.sleep(0.001)
    texts = ["b" * 40, "c" * 40, "d" * 40, "e" * 150, "f" * 10, "g" * 10]
    futures = [scheduler.submit(ModelName.COURSE_EXTRACTOR, {"text": text}) for text in texts]
    gate.set()
    assert first.result(5) == {"text": "A"}
    assert [f.result(5)["text"] for f in futures] == [text.upper() for text in texts]
    # 80 chars, then 40 (150 more would pass 100), then the 150 alone, then the rest
    assert model.calls == [1, 2, 1, 1, 2]


def test_the_text_budget_is_divided_by_the_models_text_cost() -> None:
    """The extractor with its echo member on a CPU reads text about ten times slower."""
    gate = threading.Event()
    model = RecordingModel(gate)
    costs = {ModelName.COURSE_EXTRACTOR: 4.0}
    scheduler = BatchScheduler(
        model, max_batch_size=32, max_wait=0.0, max_batch_chars=100, text_cost=lambda m: costs.get(m, 1.0)
    )

    def three_texts_behind_a_held_batch() -> list[int]:
        gate.clear()
        batches_before, calls_before = scheduler.batch_sizes.total(), len(model.calls)
        first = scheduler.submit(ModelName.COURSE_EXTRACTOR, {"text": "a"})
        while scheduler.batch_sizes.total() == batches_before:  # the first batch is held at the gate
            time.sleep(0.001)
        futures = [scheduler.submit(ModelName.COURSE_EXTRACTOR, {"text": "b" * 20}) for _ in range(3)]
        gate.set()
        assert first.result(5) == {"text": "A"}
        assert [f.result(5) for f in futures] == [{"text": "B" * 20}] * 3
        return model.calls[calls_before + 1 :]

    assert three_texts_behind_a_held_batch() == [1, 1, 1]  # a budget of 25 chars: one text at a time
    costs[ModelName.COURSE_EXTRACTOR] = 1.0  # another version swapped in
    assert three_texts_behind_a_held_batch() == [3]


class HeldModel:
    """Upper-cases each text; a batch holding ``hold`` waits for ``release``; "bad" fails its batch."""

    def __init__(self, hold: str) -> None:
        self.hold, self.release = hold, threading.Event()
        self.calls: list[list[str]] = []

    def __call__(
        self, model: ModelName, inputs: list[dict[str, Any]], on_token: list, wanted: list, answer_early: list
    ) -> list[dict[str, Any]]:
        texts = [item["text"] for item in inputs]
        self.calls.append(texts)
        if self.hold in texts:
            self.release.wait(5)
            self.wanted_after_release = [still() for still in wanted]
        if "bad" in texts:
            raise ValueError("cannot read 'bad'")
        return [{"text": text.upper()} for text in texts]


def wait_until(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_an_input_abandoned_during_a_failed_batch_is_not_run_again_alone() -> None:
    model = HeldModel(hold="gone")
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.2)
    bad, gone, kept = (scheduler.submit(ModelName.LLM, {"text": t}) for t in ("bad", "gone", "kept"))
    wait_until(lambda: model.calls)  # the three run as one batch, held
    scheduler.abandon(gone)  # its caller's time limit passed: already taken, it cannot be cancelled
    model.release.set()
    with pytest.raises(ValueError, match="cannot read 'bad'"):
        bad.result(5)
    assert kept.result(5) == {"text": "KEPT"}
    with pytest.raises(AbandonedError):
        gone.result(5)
    assert model.wanted_after_release == [True, False, True]  # a generator stops that row
    assert model.calls == [["bad", "gone", "kept"], ["bad"], ["kept"]]
    assert scheduler.dropped == 1


def test_an_input_held_over_for_the_next_batch_and_then_abandoned_is_not_run() -> None:
    model = HeldModel(hold="b" * 80)
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.2, max_batch_chars=100)
    first = scheduler.submit(ModelName.COURSE_EXTRACTOR, {"text": "b" * 80})
    held_over = scheduler.submit(ModelName.COURSE_EXTRACTOR, {"text": "c" * 80})  # 160 > 100 chars
    wait_until(held_over.running)  # taken from the queue, kept for the next batch
    scheduler.abandon(held_over)
    model.release.set()
    assert first.result(5) == {"text": "B" * 80}
    with pytest.raises(AbandonedError):
        held_over.result(5)
    later = scheduler.submit(ModelName.COURSE_EXTRACTOR, {"text": "d"})
    assert later.result(5) == {"text": "D"}
    assert model.calls == [["b" * 80], ["d"]]
    assert scheduler.dropped == 1


class EarlyModel:
    """Answers its first input early (unless it is "bad"), then holds the batch until
    ``release``; "bad" fails it."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(
        self, model: ModelName, inputs: list[dict[str, Any]], on_token: list, wanted: list, answer_early: list
    ) -> list[dict[str, Any]]:
        if inputs[0]["text"] != "bad":
            answer_early[0]({"text": inputs[0]["text"].upper()})
        self.release.wait(5)
        if any(item["text"] == "bad" for item in inputs):
            raise ValueError("cannot read 'bad'")
        return [{"text": item["text"].upper()} for item in inputs]


def test_an_input_answered_early_has_its_answer_before_its_batch_ends() -> None:
    """A short LLM request waited for the longest row of its batch (0.16 s alone, 4.5 s beside a
    row of 78 tokens); past INFERENCE_TIME_LIMIT it would have had a 504 with its text ready."""
    model = EarlyModel()
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.05)
    short, long = (scheduler.submit(ModelName.LLM, {"text": text}) for text in ("short", "long"))
    assert short.result(2) == {"text": "SHORT"}
    assert not long.done()
    model.release.set()
    assert long.result(5) == {"text": "LONG"}


def test_an_input_answered_early_keeps_its_answer_when_its_batch_fails() -> None:
    model = EarlyModel()
    model.release.set()
    scheduler = BatchScheduler(model, max_batch_size=32, max_wait=0.05)
    early, bad = (scheduler.submit(ModelName.LLM, {"text": text}) for text in ("early", "bad"))
    assert early.result(5) == {"text": "EARLY"}
    with pytest.raises(ValueError, match="cannot read 'bad'"):
        bad.result(5)


def test_a_failed_batch_runs_again_in_halves_so_one_bad_input_costs_few_runs() -> None:
    """Each input of a failed batch ran again alone: one bad input in 32 LLM rows took 32 runs one
    after another, and the last rows passed INFERENCE_TIME_LIMIT."""
    gate = threading.Event()
    model = PickyModel(gate)
    texts = [f"t{i}" for i in range(16)]
    texts[12] = "bad"
    futures = _batch_after_a_held_one(model, texts, gate)
    for text, future in zip(texts, futures, strict=True):
        if text == "bad":
            with pytest.raises(ValueError, match="cannot read 'bad'"):
                future.result(5)
        else:
            assert future.result(5) == {"text": text.upper()}
    assert model.calls == [1, 16, 8, 8, 4, 4, 1, 1, 1, 1]  # not 16 runs alone


def test_the_batcher_lives_on_when_the_text_cost_cannot_be_told() -> None:
    """A text cost that raised (DEVICE=cuda with no GPU) killed the model's batching thread: every
    later job of the model waited out INFERENCE_TIME_LIMIT and was told the worker was overloaded."""
    model = RecordingModel()

    def no_cost(_: ModelName) -> float:
        raise RuntimeError("DEVICE=cuda but torch sees no CUDA GPU")

    scheduler = BatchScheduler(model, max_batch_size=4, max_wait=0.0, max_batch_chars=100, text_cost=no_cost)
    assert scheduler.submit(ModelName.BIGRAM, {"text": "first"}).result(5) == {"text": "FIRST"}
    assert scheduler.submit(ModelName.BIGRAM, {"text": "second"}).result(5) == {"text": "SECOND"}


def test_a_batch_that_runs_too_long_is_told_apart_from_one_that_ended() -> None:
    """A forward pass that never returns (a hung GPU kernel) left the worker beating, healthy and
    ready while none of that model's jobs were answered: the heartbeat now names such batches."""
    release = threading.Event()

    def run_batch(model: ModelName, inputs: list[dict[str, Any]], *_: Any) -> list[dict[str, Any]]:
        release.wait(10)
        return [{"ok": True} for _ in inputs]

    batcher = BatchScheduler(run_batch, max_batch_size=4, max_wait=0.0)
    future = batcher.submit(ModelName.LLM, {"start_word": "x"})
    time.sleep(0.3)
    assert batcher.running_longer_than(0.1) == {"llm": pytest.approx(0.3, abs=0.2)}
    assert batcher.running_longer_than(5) == {}
    release.set()
    assert future.result(5) == {"ok": True}
    time.sleep(0.05)
    assert batcher.running_longer_than(0.0) == {}
