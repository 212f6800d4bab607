"""Course-name extraction: data building, BIO encoding and decoding, training and reloading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training.course_ner import NerTrainingConfig, train
from training.course_ner.data import ORIGINAL_TITLES, build_splits, fill
from training.course_ner.encoding import BEGIN, INSIDE, OUTSIDE, bio_labels, capitalised_chars, decode_spans
from training.course_ner.model import UnknownBaseError, base_source
from worker.predictors.course_extractor import load

O, B, I = OUTSIDE, BEGIN, INSIDE  # noqa: E741


def test_splits_are_deterministic_and_held_out_titles_never_train() -> None:
    first, second = build_splits(seed=3, train_size=500, held_out_size=200), build_splits(3, 500, 200)
    assert first.train == second.train
    assert first.held_out == second.held_out
    trained_names = {name for example in first.train for name in example.names()}
    assert not trained_names & first.held_out_titles
    held_out_names = {name.lower() for example in first.held_out for name in example.names()}
    assert held_out_names <= {t.lower() for t in first.held_out_titles}
    assert all(
        title in {n for e in build_splits(0).train for n in e.names()} for title in ORIGINAL_TITLES[:2]
    )


def test_held_out_templates_never_train() -> None:
    splits = build_splits(seed=0, train_size=2000, held_out_size=300)
    trained_shapes = {example.template for example in splits.train}
    assert trained_shapes
    assert not trained_shapes & splits.held_out_templates
    assert {example.template for example in splits.held_out} <= splits.held_out_templates


def test_fill_records_exact_spans() -> None:
    example = fill("Is {0} harder than {1}?", ["Operating Systems", "Topology"], lowercase=False)
    assert example.text == "Is Operating Systems harder than Topology?"
    assert example.names() == ["Operating Systems", "Topology"]
    assert fill("{0}", ["Machine Learning"], lowercase=True).names() == ["machine learning"]


def test_bio_labels_from_spans() -> None:
    offsets = [(0, 0), (0, 2), (3, 12), (13, 20), (21, 24), (25, 33), (34, 45), (0, 0)]
    # "Is Operating Systems and Advanced Mathematics"
    assert bio_labels(offsets, [(3, 20), (25, 45)]) == [-100, O, B, I, O, B, I, -100]


def test_decode_spans_handles_adjacent_names_a_name_at_the_end_and_stray_inside_tags() -> None:
    offsets = [(0, 2), (3, 12), (13, 20), (21, 29), (30, 41)]
    assert decode_spans(offsets, [O, B, I, B, I]) == [(3, 20), (21, 41)]
    assert decode_spans(offsets, [O, I, I, O, B]) == [(3, 20), (30, 41)]
    assert decode_spans(offsets, [O, O, O, O, O]) == []


def test_capitalisation_flags_whole_words() -> None:
    assert capitalised_chars("an Intro course") == [0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert capitalised_chars("Go. Now") == [0] * 7


def test_only_allowlisted_bases_load() -> None:
    assert base_source("dbmdz/bert-large-cased-finetuned-conll03-english").startswith("dbmdz/")
    with pytest.raises(UnknownBaseError):
        base_source("someone/untrusted-model")


def test_tiny_bert_trains_saves_and_reloads_with_identical_predictions(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    losses: list[float] = []
    config = NerTrainingConfig(epochs=2, batch_size=16, learning_rate=3e-3, train_size=320, held_out_size=40)
    store = ModelStore(tmp_path)
    version = train(store, base=tiny_bert_dir, config=config, progress=lambda p: losses.append(p["loss"]))
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5, "training loss did not go down"
    assert store.served_version_id(ModelName.COURSE_EXTRACTOR) == version.version
    assert set(version.metadata["metrics"]) >= {"precision", "recall", "f1"}
    assert (version.path / "loss_curve.png").is_file()

    texts = [
        {"text": "I'm enrolled in Operating Systems and Advanced Mathematics this term"},
        {"text": "x " * 3000},
    ]
    first = load(version, torch.device("cpu")).predict_batch(texts)
    second = load(version, torch.device("cpu")).predict_batch(texts)
    assert first == second
    assert all(name in texts[0]["text"] for name in first[0]["extracted_course_names"])


def test_a_word_takes_the_tag_of_its_first_piece() -> None:
    from training.course_ner.encoding import whole_words

    text = "auditing Survey"
    words, tags = whole_words(text, [(0, 5), (5, 8), (9, 15)], [O, B, I])
    assert words == [(0, 8), (9, 15)]
    assert tags == [O, I]
    assert decode_spans(words, tags) == [(9, 15)]


def test_leading_fillers_before_a_capitalised_name_are_dropped() -> None:
    from training.course_ner.encoding import trim_leading_fillers

    text = "help for Managing People and the Embedded Systems Capstone, also the art of war"
    spans = [(5, 24), (29, 58), (65, 79)]
    assert [text[a:b] for a, b in trim_leading_fillers(text, spans)] == [
        "Managing People",
        "Embedded Systems Capstone",
        "the art of war",
    ]
