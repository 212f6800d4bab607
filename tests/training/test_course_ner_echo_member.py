"""The optional echo member: the causal LM given each sentence twice, voting beside the encoder."""

from __future__ import annotations

import importlib
import logging
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from transformers import AutoModelForTokenClassification, AutoTokenizer

import training.device
from shared.config import EchoMemberChoice, Settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training.course_ner import NerTrainingConfig, train
from training.course_ner.echo_member import (
    EchoEncoder,
    combine_word_scores,
    echo_word_scores,
    has_echo_member,
    load_echo_member,
    train_echo_member,
)
from training.course_ner.encoding import BEGIN, INSIDE, MAX_TOKENS, OUTSIDE, STRIDE
from training.course_ner.examples import Example
from training.course_ner.extractor import load_extractor
from training.course_ner.train import add_echo_member, wants_echo_member
from worker.predictors import text_cost_of
from worker.predictors.course_extractor import ECHO_MEMBER_TEXT_COST_ON_CPU, load

# One tiny encoder and one epoch of a few sentences (of the written ones, only those without names).
QUICK_TRAINING = NerTrainingConfig(
    epochs=1,
    batch_size=16,
    learning_rate=3e-3,
    train_size=160,
    held_out_size=40,
    written_refills=0,
    ensemble_size=1,
    echo_learning_rate=3e-3,
)


def test_the_sentence_comes_twice_and_only_its_second_copy_is_labelled(tiny_llama_dir: Path) -> None:
    encoder = EchoEncoder(AutoTokenizer.from_pretrained(tiny_llama_dir))
    text = "I am enrolled in Operating Systems this term"
    inputs, offsets, starts, window_of = encoder.encode([text, "Hi"], [[(17, 34)], []])
    assert window_of == [0, 1]
    ids, labels, tokens = inputs["input_ids"][0].tolist(), inputs["labels"][0].tolist(), len(offsets[0])
    assert ids[:tokens] == ids[starts[0] : starts[0] + tokens]
    assert set(labels[: starts[0]]) == {-100}
    assert not any(text[start:end][:1].isspace() for start, end in offsets[0])  # no leading space
    second_copy = labels[starts[0] : starts[0] + tokens]
    named = [(offset, label) for offset, label in zip(offsets[0], second_copy, strict=True) if label >= 0]
    named = [(offset, label) for offset, label in named if label != OUTSIDE]
    assert named[0][0][0] == 17 and named[0][1] == BEGIN
    assert {label for _, label in named[1:]} == {INSIDE}
    assert named[-1][0][1] == 34
    assert inputs["attention_mask"][1].sum() == starts[1] + len(offsets[1])


def test_a_long_text_is_given_twice_window_by_window(tiny_llama_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    encoder = EchoEncoder(tokenizer)
    long_text = " ".join(f"word{i}" for i in range(400))
    tokens = len(tokenizer(long_text, add_special_tokens=False).input_ids)
    assert tokens > 2 * MAX_TOKENS
    inputs, offsets, starts, window_of = encoder.encode(["Hi", long_text])
    assert window_of[0] == 0 and set(window_of[1:]) == {1} and len(window_of) >= 4
    windows = offsets[1:]
    assert all(len(window) <= MAX_TOKENS for window in windows)
    assert all(earlier[-STRIDE:] == later[:STRIDE] for earlier, later in pairwise(windows))
    assert windows[0][0][0] == 0 and windows[-1][-1][1] == len(long_text)  # every token is in a window
    for row, start in enumerate(starts):
        ids = inputs["input_ids"][row].tolist()
        assert ids[: len(offsets[row])] == ids[start : start + len(offsets[row])]


def test_the_member_reads_in_bfloat16_where_it_is_fast_and_scores_as_in_float32(
    tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether this CPU runs bfloat16 fast is its hardware's answer: both answers are set here."""
    model = AutoModelForTokenClassification.from_pretrained(tiny_llama_dir, num_labels=3)
    encoder = EchoEncoder(AutoTokenizer.from_pretrained(tiny_llama_dir))
    texts = ["I am enrolled in Operating Systems this term", "Lunch is at noon"]
    monkeypatch.setattr(training.device, "bf16_is_fast", lambda device: False)
    float32 = echo_word_scores(model, encoder, texts)
    monkeypatch.setattr(training.device, "bf16_is_fast", lambda device: True)
    bfloat16 = echo_word_scores(model, encoder, texts)
    assert bfloat16 != float32  # it did read in bfloat16
    for (words, scores), (words_bf16, scores_bf16) in zip(float32, bfloat16, strict=True):
        assert words == words_bf16
        assert torch.allclose(torch.tensor(scores), torch.tensor(scores_bf16), atol=0.05)


def test_word_scores_are_weighted_where_both_members_have_the_word() -> None:
    encoder_words = ([(0, 2), (3, 9)], [[0.0, -1.0, -2.0], [-4.0, 0.0, -8.0]])
    echo_words = ([(0, 2), (3, 5)], [[-2.0, -3.0, -4.0], [0.0, 0.0, 0.0]])
    words, scores = combine_word_scores(encoder_words, echo_words, 0.75)
    assert words == encoder_words[0]
    assert scores == [[-1.5, -2.5, -3.5], [-4.0, 0.0, -8.0]]  # (3, 9) is split otherwise: the encoder's alone
    assert combine_word_scores(encoder_words, echo_words, 0.0) == encoder_words


def test_an_echo_member_trains_is_served_and_votes_by_its_weight(
    tmp_path: Path, tiny_bert_dir: Path, tiny_llama_dir: Path
) -> None:
    config = replace(QUICK_TRAINING, echo_member=True)
    reports: list[dict] = []
    store = ModelStore(tmp_path)
    version = train(
        store, base=tiny_bert_dir, config=config, progress=reports.append, echo_base=tiny_llama_dir
    )
    assert reports[-1]["step"] == reports[-1]["total_steps"] == version.metadata["training"]["steps"]
    # The encoders are published first, served while the echo member trains; then both together.
    encoders_version, newest = store.versions(ModelName.COURSE_EXTRACTOR)
    assert newest == version and not has_echo_member(encoders_version.path) and has_echo_member(version.path)
    assert version.metadata["training"]["echo_member_of"] == encoders_version.version
    assert version.metadata["metrics"]["without_echo_member"] == {
        k: v
        for k, v in encoders_version.metadata["metrics"].items()
        if k not in {"members_alone", "final_train_loss"}
    }
    assert encoders_version.metadata["training"]["echo_member"] is False
    assert (version.path / "model.safetensors").read_bytes() == (
        encoders_version.path / "model.safetensors"
    ).read_bytes()
    assert load_echo_member(tiny_llama_dir.parent) is None
    extractor = load_extractor(version)
    assert extractor.echo is not None and extractor.echo_weight == config.echo_weight
    texts = ["I'm enrolled in Operating Systems and Advanced Mathematics this term", "x " * 300]
    encoders_alone = replace(extractor, echo=None).predict(texts)
    assert replace(extractor, echo_weight=0.0).predict(texts) == encoders_alone
    predictor = load(version, torch.device("cpu"))
    served = predictor.predict_batch([{"text": text} for text in texts])
    assert served == [{"extracted_course_names": names} for names in extractor.predict(texts)]
    # Its batches hold less text on a CPU, where the member reads it ten times slower.
    assert text_cost_of(predictor) == ECHO_MEMBER_TEXT_COST_ON_CPU > 1
    assert text_cost_of(load(encoders_version, torch.device("cpu"))) == 1.0


def test_an_echo_member_is_added_to_a_version_that_has_none(
    tmp_path: Path, tiny_bert_dir: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make run` does with EXTRACTOR_ECHO_MEMBER when training stopped between the two versions."""
    config = QUICK_TRAINING
    store = ModelStore(tmp_path)
    encoders_version = train(store, base=tiny_bert_dir, config=config)
    assert not has_echo_member(encoders_version.path)
    reports: list[dict] = []
    version = add_echo_member(store, encoders_version, progress=reports.append, echo_base=tiny_llama_dir)
    assert store.served_version(ModelName.COURSE_EXTRACTOR) == version and has_echo_member(version.path)
    assert reports[-1]["step"] == reports[-1]["total_steps"] > 0
    assert version.metadata["training"]["echo_member_of"] == encoders_version.version
    without = version.metadata["metrics"]["without_echo_member"]
    assert without["f1"] == encoders_version.metadata["metrics"]["f1"]  # its held-out score
    assert load_extractor(version).echo is not None
    # Whether the member reads in bfloat16 is decided when a worker loads it (on a CPU a timed step
    # of half a second), not by its first request; the encoders read in float32: nothing to decide.
    asked: list[torch.device] = []
    monkeypatch.setattr(training.device, "bf16_is_fast", lambda device: asked.append(device) or False)
    load(encoders_version, torch.device("cpu"))
    assert asked == []
    load(version, torch.device("cpu"))
    assert asked == [torch.device("cpu")]


def test_training_the_member_in_float32_on_a_cpu_warns_of_its_time(
    tiny_llama_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its steps took 40 s in float32 on 2 CPU cores without AVX512: hours, not minutes."""
    examples = [Example("I'm taking Operating Systems", ((11, 28),)), Example("Lunch is at noon", ())]
    config = replace(QUICK_TRAINING, mixed_precision=False, batch_size=2)
    with caplog.at_level(logging.WARNING, logger="training.course_ner.echo_member"):
        *_, losses = train_echo_member(
            tiny_llama_dir, examples, config, torch.device("cpu"), lambda loss: None
        )
    assert len(losses) == 1
    assert "float32" in caplog.text and "1 steps may take hours" in caplog.text


@pytest.mark.parametrize("bf16_fast_here", [False, True])
def test_extractor_echo_member_auto_takes_the_member_on_a_gpu_or_a_cpu_with_fast_bf16(
    bf16_fast_here: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether this CPU runs bfloat16 fast is its hardware's answer: both answers are set here."""
    # the package's `train` is the function; the module is this one
    monkeypatch.setattr(
        importlib.import_module("training.course_ner.train"), "bf16_is_fast", lambda device: bf16_fast_here
    )
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert Settings(extractor_echo_member="auto").extractor_echo_member is EchoMemberChoice.AUTO
    assert wants_echo_member(EchoMemberChoice.AUTO, cpu) is bf16_fast_here
    assert wants_echo_member(EchoMemberChoice.AUTO, cuda)
    assert wants_echo_member(Settings(extractor_echo_member="true").extractor_echo_member, cpu)
    assert not wants_echo_member(Settings(extractor_echo_member="false").extractor_echo_member, cuda)
    with pytest.raises(ValidationError, match="auto"):
        Settings(extractor_echo_member="sometimes")
