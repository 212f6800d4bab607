"""Course-name extraction: data building, BIO encoding and decoding, training and reloading."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from shared.config import ExtractorBase, get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training.course_ner import NerTrainingConfig, train
from training.course_ner.data import ORIGINAL_TITLES, build_splits, fill
from training.course_ner.decoding import decode_spans
from training.course_ner.encoding import BEGIN, INSIDE, OUTSIDE, bio_labels, capitalised_chars
from training.course_ner.extractor import load_extractor
from training.course_ner.model import UnknownBaseError, base_source, load_title_words
from training.course_ner.train import remove_old_versions
from training.finite_loss import NonFiniteLossError
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


def test_the_original_titles_train_and_are_never_held_out() -> None:
    # Seed 1's draw of catalog titles holds out "Data Structures and Algorithms", an original one.
    splits = build_splits(seed=1, train_size=500, held_out_size=200)
    trained_names = {name for example in splits.train for name in example.names()}
    assert set(ORIGINAL_TITLES) <= trained_names
    assert not {t.lower() for t in ORIGINAL_TITLES} & {t.lower() for t in splits.held_out_titles}
    assert not trained_names & splits.held_out_titles


def test_the_held_out_split_alone_is_the_one_training_holds_out() -> None:
    from training.course_ner.data import held_out_split

    assert held_out_split(seed=2, held_out_size=150) == build_splits(2, 400, 150).held_out
    assert held_out_split(seed=1, held_out_size=150) != held_out_split(seed=2, held_out_size=150)


def test_held_out_templates_never_train() -> None:
    splits = build_splits(seed=0, train_size=2000, held_out_size=300)
    trained_shapes = {example.template for example in splits.train}
    assert trained_shapes
    assert not trained_shapes & splits.held_out_templates
    assert {example.template for example in splits.held_out} <= splits.held_out_templates


def test_training_sentences_give_one_word_titles_their_share_and_pairs_that_are_no_list() -> None:
    from training.course_ner.data import ONE_WORD_TITLE_SHARE

    splits = build_splits(seed=0, train_size=3000, held_out_size=100)
    positives = [e for e in splits.train if e.spans and not e.template.startswith("written:")]
    with_one_word = [e for e in positives if any(len(name.split()) == 1 for name in e.names())]
    # Drawn on their own, one-word titles would fill about 2% of these sentences.
    assert len(with_one_word) / len(positives) > ONE_WORD_TITLE_SHARE * 0.8
    assert "Histology" in splits.train_titles
    pairs = [e for e in positives if " switched from " in e.text or "rather take " in e.text]
    assert pairs and all(len(e.spans) == 2 for e in pairs)


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


def test_a_loss_that_becomes_nan_fails_the_run_and_publishes_nothing(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    config = NerTrainingConfig(epochs=1, batch_size=16, learning_rate=1e30, train_size=64, held_out_size=20)
    store = ModelStore(tmp_path)
    with pytest.raises(NonFiniteLossError, match="no model version was published"):
        train(store, base=tiny_bert_dir, config=config)
    assert store.versions(ModelName.COURSE_EXTRACTOR) == []


def test_a_run_removes_the_versions_past_keep_extractor_versions(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every run (train, add_echo_member) left its versions for ever: up to 700 MB each with the
    echo member."""
    store = ModelStore(tmp_path)
    ids = []
    for _ in range(4):
        with store.new_version(ModelName.COURSE_EXTRACTOR, {"kind": "trained"}) as version:
            ids.append(version.version)
    monkeypatch.setenv("KEEP_EXTRACTOR_VERSIONS", "2")
    monkeypatch.setenv("REDIS_URL", redis_url)  # no live worker holds any of them
    get_settings.cache_clear()
    try:
        assert remove_old_versions(store) == ids[:2]
    finally:
        get_settings.cache_clear()
    assert [v.version for v in store.versions(ModelName.COURSE_EXTRACTOR)] == ids[2:]


def test_tiny_bert_trains_saves_and_reloads_with_identical_predictions(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    reports: list[dict] = []
    config = NerTrainingConfig(epochs=2, batch_size=16, learning_rate=3e-3, train_size=320, held_out_size=40)
    store = ModelStore(tmp_path)
    version = train(store, base=tiny_bert_dir, config=config, progress=reports.append)
    losses = [report["loss"] for report in reports]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5, "training loss did not go down"
    assert reports[-1]["step"] == reports[-1]["total_steps"] == version.metadata["training"]["steps"]
    assert store.served_version_id(ModelName.COURSE_EXTRACTOR) == version.version
    assert set(version.metadata["metrics"]) >= {
        "precision",
        "recall",
        "f1",
        "hand_written",
        "written_apart_new_titles",
    }
    assert set(version.metadata["metrics"]["hand_written"]) >= {"precision", "recall", "f1"}
    assert (version.path / "loss_curve.png").is_file()
    assert version.metadata["scores_comparable"] is True  # the project's own titles
    title_words = load_title_words(version.path)
    assert {"operating", "systems", "introduction"} <= title_words  # the original exercise's titles train
    extractor = load_extractor(version)
    assert extractor.title_words == title_words and extractor.echo is None
    members = extractor.members
    assert len(members) == config.ensemble_size == 2 == len(version.metadata["metrics"]["members_alone"])
    assert not torch.equal(members[0].classifier.weight, members[1].classifier.weight)
    sentence = ["I'm enrolled in Operating Systems and Advanced Mathematics this term"]
    first_twice = replace(extractor, members=[members[0], members[0]])
    assert first_twice.predict(sentence) == replace(extractor, members=members[:1]).predict(sentence)

    texts = [
        {"text": "I'm enrolled in Operating Systems and Advanced Mathematics this term"},
        {"text": "x " * 3000},
    ]
    first = load(version, torch.device("cpu")).predict_batch(texts)
    second = load(version, torch.device("cpu")).predict_batch(texts)
    assert first == second
    assert all(name in texts[0]["text"] for name in first[0]["extracted_course_names"])


def test_titles_other_than_the_projects_mark_the_scores_not_comparable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The whole downloaded catalog holds the titles the evaluation sets call unseen."""
    from shared.data_files import SOURCES, DataFile, data_path
    from training.course_ner.data import Splits
    from training.course_ner.train import _metadata

    squad = data_path(DataFile.SQUAD_DEV)
    titles = tmp_path / "data" / "course_titles" / SOURCES[DataFile.COURSE_TITLES].file_name
    titles.parent.mkdir(parents=True)
    titles.write_text(data_path(DataFile.COURSE_TITLES).read_text() + "Applied Unseen Titles\n")
    (tmp_path / "data" / "squad").mkdir()
    (tmp_path / "data" / "squad" / squad.name).symlink_to(squad)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        nothing = Splits([], [], frozenset(), frozenset(), frozenset())
        metadata = _metadata(None, NerTrainingConfig(), nothing, steps=1)
    finally:
        get_settings.cache_clear()
    assert metadata["scores_comparable"] is False
    assert "not comparable" in caplog.text


def test_a_preview_within_seconds_trains_only_the_steps_that_fit(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """No machine trains a step in a nanosecond: the preview falls back to its least steps."""
    reports: list[dict] = []
    config = NerTrainingConfig(
        epochs=2,
        batch_size=16,
        train_size=320,
        held_out_size=40,
        ensemble_size=1,
        step_seconds=1e-9,
        min_steps=3,
    )
    version = train(ModelStore(tmp_path), base=tiny_bert_dir, config=config, progress=reports.append)
    assert [report["step"] for report in reports] == [1, 2, 3]
    assert reports[-1]["total_steps"] == 3 == version.metadata["training"]["steps"]
    assert version.metadata["training"]["max_steps"] == 3
    assert version.metadata["training"]["step_seconds"] == 1e-9


def test_steps_that_fit_in_seconds() -> None:
    from training.course_ner.step_budget import steps_within
    from training.course_ner.train import member_steps

    assert steps_within(150, 0.25, wanted=596, least=150) == 596  # a fast machine: all of them
    assert steps_within(150, 0.75, wanted=596, least=150) == 200
    assert steps_within(150, 5.0, wanted=596, least=150) == 150  # never fewer than the least
    assert steps_within(150, 5.0, wanted=100, least=150) == 100  # nor more than wanted
    assert member_steps(NerTrainingConfig(epochs=2), 298) == 596
    assert member_steps(NerTrainingConfig(epochs=2, max_steps=200), 298) == 200
    with pytest.raises(ValueError, match="max_steps"):
        NerTrainingConfig(max_steps=0)


def test_timing_steps_changes_no_weight_and_no_random_state(tiny_bert_dir: Path) -> None:
    from training.course_ner.model import load_base
    from training.course_ner.step_budget import seconds_per_step
    from training.course_ner.train import _batches

    model, tokenizer = load_base(tiny_bert_dir)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    examples = build_splits(0, train_size=64, held_out_size=8).train
    batches = list(_batches(tokenizer, examples, 8, seed=0, context_mask_share=0.15))[:3]
    torch.manual_seed(7)
    state = torch.random.get_rng_state()
    seconds = seconds_per_step(model, batches, torch.device("cpu"), mixed_precision=False)
    assert seconds > 0
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert all(parameter.grad is None for parameter in model.parameters())
    with pytest.raises(ValueError, match="two batches"):
        seconds_per_step(model, batches[:1], torch.device("cpu"), mixed_precision=False)


@pytest.fixture
def without_echo_member(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """EXTRACTOR_ECHO_MEMBER=false: `auto` adds a member to a served version on a GPU or a CPU
    with fast bfloat16, which a version with no weights cannot take."""
    monkeypatch.setenv("EXTRACTOR_ECHO_MEMBER", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("without_echo_member")
def test_a_preview_is_served_until_a_full_version_replaces_it(tmp_path: Path) -> None:
    from dataclasses import asdict

    from training.course_ner import ensure_preview, ensure_trained
    from training.course_ner.train import is_preview

    store = ModelStore(tmp_path)
    preview_config = NerTrainingConfig.preview_config()
    assert preview_config.ensemble_size == 1 and preview_config.epochs < NerTrainingConfig.epochs
    base = {"base": ExtractorBase.MINILM.value}
    with store.new_version(
        ModelName.COURSE_EXTRACTOR, {**base, "training": asdict(preview_config)}
    ) as written:
        pass
    preview = store.published(written)
    assert is_preview(preview)
    assert ensure_preview(store) == preview  # served already: no second preview trains
    config = {"training": asdict(NerTrainingConfig())}
    with store.new_version(ModelName.COURSE_EXTRACTOR, {**base, **config}) as written:
        pass
    full = ensure_trained(store)  # a full version is served: nothing trains
    assert full.version == written.version and not is_preview(full)
    # a version published before the base was recorded by name: its directory stands for it
    legacy_base = {"base": base_source(ExtractorBase.MINILM.value)}
    with store.new_version(ModelName.COURSE_EXTRACTOR, {**legacy_base, **config}) as written:
        pass
    assert ensure_trained(store).version == written.version


def test_a_version_of_another_extractor_base_does_not_count_as_one_of_this_base(tmp_path: Path) -> None:
    from training.course_ner.model import ALLOWED_BASES
    from training.course_ner.train import served_of_extractor_base

    store = ModelStore(tmp_path)
    with store.new_version(
        ModelName.COURSE_EXTRACTOR, {"base": ExtractorBase.BERT_LARGE_CONLL.value}
    ) as written:
        pass
    other = store.published(written)
    assert other.made_from(ExtractorBase.BERT_LARGE_CONLL.value, ALLOWED_BASES)
    assert not other.made_from(ExtractorBase.MINILM.value, ALLOWED_BASES)
    assert served_of_extractor_base(store) is None  # EXTRACTOR_BASE is MiniLM here: it must train
    with store.new_version(ModelName.COURSE_EXTRACTOR, {"base": str(tmp_path / "my-encoder")}) as written:
        pass
    assert served_of_extractor_base(store).version == written.version  # trained by hand from a directory


def test_a_word_takes_the_tag_of_its_first_piece() -> None:
    from training.course_ner.decoding import whole_words

    text = "auditing Survey"
    words, tags = whole_words(text, [(0, 5), (5, 8), (9, 15)], [O, B, I])
    assert words == [(0, 8), (9, 15)]
    assert tags == [O, I]
    assert decode_spans(words, tags) == [(9, 15)]


def test_a_word_keeps_a_combining_accent_after_its_last_letter() -> None:
    """The uncased tokenizer's offsets leave out a combining mark after a token's last letter, and
    "Calculus I" + U+0301 (Í as macOS input writes it) came back as "Calculus I" (found by a review)."""
    from training.course_ner.decoding import whole_words

    text = "Calculus I\u0301 and Ne\u0301ural Networks\u0301"
    # the MiniLM tokenizer's offsets for these words: a mark inside a word is covered, a last one not
    offsets = [(0, 8), (9, 10), (12, 15), (16, 23), (24, 32)]
    words, _ = whole_words(text, offsets, [B, I, O, B, I])
    assert [text[start:end] for start, end in words] == [
        "Calculus",
        "I\u0301",
        "and",
        "Ne\u0301ural",
        "Networks\u0301",
    ]


def test_typographic_quotes_and_markup_stand_apart_from_the_words_they_touch() -> None:
    """A word took the tag of its first piece, here the quote or the asterisk, scored outside: a
    name in curly quotes or in Markdown's bold was never found."""
    from training.course_ner.decoding import whole_words

    for text in ("\u201cLinear Algebra\u201d", "**Linear Algebra**", "<b>Linear Algebra</b>"):
        start, end = text.index("Linear"), text.index("Algebra") + len("Algebra")
        # as the tokenizer cuts them: each mark a token of its own, touching the words
        pieces = [(i, i + 1) for i in range(start)] + [(start, start + 6), (start + 7, end)]
        pieces += [(i, i + 1) for i in range(end, len(text))]
        words, _ = whole_words(text, pieces, list(range(len(pieces))))
        assert (start, start + 6) in words and (start + 7, end) in words, text


def test_constrained_decoding_never_starts_a_name_with_an_inside_tag() -> None:
    from training.course_ner.decoding import best_tags

    def scores(o: float, b: float, i: float) -> list[float]:
        return [math.log(o), math.log(b), math.log(i)]

    # "into" leans to I- after an O: alone it must not become a name.
    assert best_tags([scores(0.9, 0.05, 0.05), scores(0.4, 0.1, 0.5), scores(0.9, 0.05, 0.05)]) == [O, O, O]
    # A confident B- then an unsure word that leans I-: the name goes on.
    assert best_tags([scores(0.05, 0.9, 0.05), scores(0.4, 0.1, 0.5)]) == [B, I]
    # An unsure B- before a confident I- gets promoted rather than dropping the name.
    assert best_tags([scores(0.5, 0.4, 0.1), scores(0.05, 0.05, 0.9)]) == [B, I]
    assert best_tags([]) == []


def words_of(text: str) -> list[tuple[int, int]]:
    """The words of a text whose tokens are its space-separated pieces."""
    from training.course_ner.decoding import whole_words

    offsets, start = [], 0
    for piece in text.split(" "):
        offsets.append((start, start + len(piece)))
        start += len(piece) + 1
    return whole_words(text, offsets, offsets)[0]


def test_a_name_holds_a_second_and_only_after_a_comma_or_colon() -> None:
    from training.course_ner.decoding import best_tags, word_kinds

    def scores(o: float, b: float, i: float) -> list[float]:
        return [math.log(o), math.log(b), math.log(i)]

    # The model reads all six words as one name, but leans a little more towards a cut at the
    # second "and": with the rule that is where the name splits; without it, one name.
    text = "Land Law and Equity and Trusts"
    words = words_of(text)
    model = [
        scores(0.05, 0.9, 0.05),
        scores(0.05, 0.05, 0.9),
        scores(0.3, 0.05, 0.65),
        scores(0.1, 0.1, 0.8),
        scores(0.35, 0.05, 0.6),
        scores(0.1, 0.4, 0.5),
    ]
    assert best_tags(model) == [B, I, I, I, I, I]
    tags = best_tags(model, word_kinds(text, words))
    assert [text[a:b] for a, b in decode_spans(words, tags)] == ["Land Law and Equity", "Trusts"]
    # Three "and"s with no comma: never one name, whatever the model says.
    text = "Crop Production and Management and Farm Power and Machinery"
    words = words_of(text)
    confident = [scores(0.05, 0.9, 0.05)] + [scores(0.05, 0.05, 0.9)] * (len(words) - 1)
    names = [text[a:b] for a, b in decode_spans(words, best_tags(confident, word_kinds(text, words)))]
    assert all(name.split().count("and") <= 1 for name in names)
    # After a colon a title may list on: "Digital Art and New Media: History, Theory, and Practice".
    text = "Digital Art and New Media : History , Theory , and Practice and more"
    words = words_of(text)
    confident = [scores(0.05, 0.9, 0.05)] + [scores(0.05, 0.05, 0.9)] * (len(words) - 1)
    assert best_tags(confident, word_kinds(text, words)) == [B] + [I] * (len(words) - 1)


def test_an_and_between_capitalised_words_that_share_one_leans_to_two_names() -> None:
    from training.course_ner.decoding import best_tags, lean_to_split, word_kinds

    def names(text: str, and_inside: float) -> list[str]:
        """The names decoded where the model reads every word as one name, its "and" as inside
        with probability ``and_inside``."""
        words = words_of(text)
        scores = []
        for index, (a, b) in enumerate(words):
            if text[a:b].islower() and text[a:b] != "and":
                scores.append([math.log(p) for p in (0.9, 0.05, 0.05)])
                continue
            inside = and_inside if text[a:b] == "and" else 0.9
            after_and = index > 0 and text[words[index - 1][0] : words[index - 1][1]] == "and"
            begin = 0.9 if index == 0 else 0.3 if after_and else 0.05
            scores.append([math.log(p) for p in ((1 - inside), begin, inside)])
        tags = best_tags(lean_to_split(text, words, scores), word_kinds(text, words))
        return [text[a:b] for a, b in decode_spans(words, tags)]

    listed = "Abnormal Psychology and Developmental Psychology both require it"
    assert names(listed, and_inside=0.85) == ["Abnormal Psychology", "Developmental Psychology"]
    # The same confidence keeps one title whose sides share no word, or have one word a side.
    assert names("Signal Processing and Machine Learning both require it", 0.85) == [
        "Signal Processing and Machine Learning"
    ]
    assert names("Health and Health Care both require it", 0.85) == ["Health and Health Care"]
    # A model sure enough of one title keeps it.
    assert names(listed, and_inside=0.99) == ["Abnormal Psychology and Developmental Psychology"]


def test_hyphens_and_slashes_stay_inside_a_word_but_commas_and_colons_split() -> None:
    from training.course_ner.decoding import whole_words

    text = "EHR/HI Burke-Gilman Ethics, Values: x"
    offsets = [
        (0, 3),
        (3, 4),
        (4, 6),
        (7, 12),
        (12, 13),
        (13, 19),
        (20, 26),
        (26, 27),
        (28, 34),
        (34, 35),
        (36, 37),
    ]
    words, _ = whole_words(text, offsets, list(range(len(offsets))))
    assert [text[a:b] for a, b in words] == ["EHR/HI", "Burke-Gilman", "Ethics", ",", "Values", ":", "x"]


def test_hand_written_sentences_lose_their_brackets_and_keep_exact_spans() -> None:
    from training.course_ner.challenge import CHALLENGE_SENTENCES, challenge_examples

    examples = challenge_examples()
    assert len(examples) == len(CHALLENGE_SENTENCES)
    assert not any("[" in e.text or "]" in e.text for e in examples)
    by_text = {e.text: e.names() for e in examples}
    assert by_text["I'm enrolled in Operating Systems and Advanced Mathematics this term"] == [
        "Operating Systems",
        "Advanced Mathematics",
    ]
    assert by_text["The cafeteria opens at noon."] == []
    # None of them was produced by a training template: no sentence is in the training split.
    trained = {e.text for e in build_splits(0, 2000, 10).train}
    assert not trained & set(by_text) - {"Introduction to Artificial Intelligence"}


def test_titles_of_the_sentences_written_with_catalog_titles_never_train_whatever_the_seed() -> None:
    from training.course_ner.challenge import apart_catalog_sets, unseen_examples
    from training.course_ner.data import catalog_titles, never_trained_titles

    examples = unseen_examples()
    assert len(examples) == 150
    assert sum(len(e.names()) for e in examples) == 179
    (dev_name, dev), (test_name, test) = apart_catalog_sets()
    assert (dev_name, test_name) == ("catalog-dev", "catalog-test")
    catalog_names = [name.lower() for e in dev + test for name in e.names()]
    assert len(catalog_names) == len(set(catalog_names)) == 385  # each writer's 55 titles, once each
    assert sum(len(e.names()) for e in dev) == 110  # sets 3 and 9
    assert set(catalog_names) <= {title.lower() for title in catalog_titles()}
    assert not any("[" in e.text or "]" in e.text for e in examples + dev + test)
    titles = never_trained_titles()
    assert {"planning history, theory, and ethics", catalog_names[0], catalog_names[-1]} <= titles
    for seed in (0, 1):
        trained = {name.lower() for e in build_splits(seed, 3000, 10).train for name in e.names()}
        assert not trained & titles


def test_sentences_written_apart_lose_their_brackets_and_keep_exact_spans() -> None:
    from training.course_ner.challenge import apart_examples

    examples = apart_examples()
    assert len(examples) == 993
    assert sum(len(e.names()) for e in examples) == 971
    assert not any("[" in e.text or "]" in e.text for e in examples)
    by_text = {e.text: e.names() for e in examples}
    assert by_text["Land Law and Equity and Trusts are the two subjects most Oxford law students dread."] == [
        "Land Law",
        "Equity and Trusts",
    ]


def test_the_test_sets_whose_mistakes_stay_unread_are_real_sets() -> None:
    from training.course_ner.challenge import apart_sets
    from training.course_ner.evaluate import TEST_SETS

    names = [name for name, _ in apart_sets()]
    assert names == ["apart-1", "apart-2", "apart-3", "apart-4", "apart-5"]
    assert set(TEST_SETS) <= {*names, "apart-new", "catalog-test"}


def test_sentences_written_apart_with_new_titles_name_no_title_another_file_holds() -> None:
    from training.course_ner.challenge import (
        apart_examples,
        apart_examples_with_new_titles,
        titles_the_project_holds,
    )

    held = titles_the_project_holds()
    # One title from each source: the catalog, the generated titles, a written training sentence,
    # the hand-written and the unseen sentences.
    assert {
        "a documentary history of pacific northwest identity",
        "drawing",
        "hydrology and water resources",
        "fatigue of materials",
        "planning history, theory, and ethics",
    } <= held
    # and the shortened forms training may give a title: "Intro to Sculpture" trained as a form of
    # "Introduction to Sculpture", a catalog title, and "Spanish 3" of "Spanish III"
    assert {"intro to sculpture", "spanish 3", "calc 2", "orgo"} <= held
    chosen = apart_examples_with_new_titles()
    names = [name for e in chosen for name in e.names()]
    assert (len(chosen), len(names)) == (437, 214)
    assert not {name.lower() for name in names} & held
    assert sum(not e.names() for e in chosen) == sum(not e.names() for e in apart_examples())
    # "Land Law and Equity and Trusts ...": "Land Law" names a course in a written training sentence.
    assert not any(e.text.startswith("Land Law and Equity and Trusts") for e in chosen)


def test_a_sentence_two_sets_share_is_predicted_once_and_scored_in_both() -> None:
    from training.course_ner.examples import marked_examples
    from training.course_ner.scoring import PredictedOnce, score

    class Capitalised:
        """Takes every capitalised word for a name, and counts the texts it was given."""

        def __init__(self) -> None:
            self.texts: list[str] = []

        def predict(self, texts: list[str]) -> list[list[str]]:
            self.texts += texts
            return [[word for word in text.split() if word[0].isupper()] for text in texts]

    whole = marked_examples(["we took [Algebra]", "we took [Topology] and Law", "lunch at noon"], "t")
    part = whole[:2]
    counting = Capitalised()
    predictor = PredictedOnce(counting)
    assert score(predictor, whole) == {"precision": 0.6667, "recall": 1.0, "f1": 0.8, "entities": 2}
    assert score(predictor, part) == score(Capitalised(), part)
    assert counting.texts == [e.text for e in whole]


def test_sentences_written_for_training_train_only_with_training_titles_in_their_names() -> None:
    from training.course_ner.challenge import apart_examples, challenge_examples, unseen_examples
    from training.course_ner.examples import Example
    from training.course_ner.written import refill, written_sentences

    written = written_sentences()
    assert len(written) == 2391
    assert not any("[" in e.text or "]" in e.text for e in written)
    evaluated = {e.text for e in apart_examples() + challenge_examples() + unseen_examples()}
    assert not {e.text for e in written} & evaluated

    text = "dropped calc two, kept Torts (LAW 210)"
    refilled = refill(random.Random(0), Example(text, ((8, 16), (23, 28))), ["Land Law"])
    assert refilled.text == "dropped land law, kept Land Law (LAW 210)"
    assert refilled.names() == ["land law", "Land Law"]

    with_names = sum(bool(e.spans) for e in written)
    splits = build_splits(seed=0, train_size=200, held_out_size=10, written_refills=2, informal_share=0.0)
    from_written = [e for e in splits.train if e.template.startswith("written:")]
    assert len(from_written) == 2 * with_names + len(written) - with_names
    titles = {title.lower() for title in splits.train_titles}
    assert all(name.lower() in titles for e in from_written for name in e.names())


def test_a_student_shortens_titles_the_way_students_do() -> None:
    from training.course_ner.informal import informal_title

    def forms(title: str) -> set[str]:
        rng = random.Random(0)
        return {informal_title(rng, title) for _ in range(200)}

    assert {"Intro to Sociology", "Intro Sociology"} <= forms("Introduction to Sociology")
    assert {"Calc 2", "Calculus 2", "Calc II", "Calculus II"} <= forms("Calculus II")
    assert "Orgo" in forms("Organic Chemistry")
    assert {"intro to cs", "calc 2"} & (forms("introduction to computer science") | forms("calculus ii"))
    assert all(form == form.lower() for form in forms("calculus ii") | forms("organic chemistry"))
    assert forms("Modern European History") == {"Modern European History"}


def test_every_shortened_form_training_can_give_a_title_is_known_ahead() -> None:
    """apart-new leaves out the titles training names: their shortened forms, drawn at random, were
    not among them, and "Intro to Sculpture" (trained as a form of a catalog title) was scored as new."""
    from training.course_ner.informal import informal_forms, informal_title

    rng = random.Random(0)
    titles = ["Introduction to Sculpture", "Calculus II", "Organic Chemistry", "Biology Laboratory III"]
    titles += ["introduction to computer science", "Principles of Statistics", "Modern European History"]
    for title in titles:
        drawn = {informal_title(rng, title).lower() for _ in range(300)}
        assert drawn <= informal_forms(title), title
    assert informal_forms("Modern European History") == {"modern european history"}


def test_shortened_titles_train_with_their_spans_and_leave_the_held_out_split_alone() -> None:
    plain = build_splits(seed=0, train_size=1000, held_out_size=100, informal_share=0.0)
    shortened = build_splits(seed=0, train_size=1000, held_out_size=100, informal_share=1.0)
    assert shortened.held_out == plain.held_out
    titles = {title.lower() for title in shortened.train_titles}
    names = [name for example in shortened.train for name in example.names()]
    informal = [name for name in names if name.lower() not in titles]
    assert any(name.lower().startswith("intro") for name in informal)
    assert len(informal) > 0.05 * len(names)
    assert not {name.lower() for name in informal} & {title.lower() for title in shortened.held_out_titles}
    assert all(name.lower() in titles for example in plain.train for name in example.names())


def test_a_share_of_the_template_sentences_draws_its_names_from_the_catalog_alone() -> None:
    from training.course_ner.data import catalog_titles

    catalog = {title.lower() for title in catalog_titles()}

    def catalog_share_of_names(share: float) -> float:
        splits = build_splits(0, 1000, 100, written_refills=0, informal_share=0.0, catalog_share=share)
        names = [name.lower() for e in splits.train for name in e.names()]
        return sum(name in catalog for name in names) / len(names)

    assert build_splits(0, 300, 100, catalog_share=1.0).held_out == build_splits(0, 300, 100).held_out
    assert catalog_share_of_names(1.0) > catalog_share_of_names(0.0) + 0.25


def test_capitalised_names_that_are_no_course_fill_the_distractor_slots() -> None:
    from training.course_ner.data import _capitalised_runs, distractor_pools, fill_distractors

    pools = distractor_pools()
    assert "the Department of Linguistics" in pools["<institution>"]
    assert "Bachelor of Arts in Informatics" in pools["<degree>"]
    assert "Bachelor of Science in Statistics" in pools["<degree>"]
    assert "CSE 101" in pools["<code>"]
    # Wikipedia names whose words all also make course titles are left out.
    assert "Denver Broncos" in pools["<entity>"]
    assert "Climate Change and Environment" not in pools["<entity>"]
    runs = _capitalised_runs("Later the Denver Broncos beat the Carolina Panthers, 24 to 10.")
    assert [run for run in runs if run] == [["Denver", "Broncos"], ["Carolina", "Panthers"]]
    filled = fill_distractors(random.Random(0), "Re: <code> - ask <entity> at <institution>")
    assert "<" not in filled


def test_context_masking_hides_only_tokens_outside_names() -> None:
    from training.course_ner.train import mask_context

    input_ids = torch.arange(10, 20).repeat(2, 1)
    labels = torch.tensor([[-100, O, B, I, O, O, B, O, O, -100]] * 2)
    masked = mask_context(input_ids, labels, 99, 1.0, torch.Generator().manual_seed(0))
    assert masked[0].tolist() == [10, 99, 12, 13, 99, 99, 16, 99, 99, 19]
    assert torch.equal(mask_context(input_ids, labels, 99, 0.0, torch.Generator()), input_ids)
    some = mask_context(input_ids, labels, 99, 0.5, torch.Generator().manual_seed(0))
    assert (some == 99).sum() < (labels == O).sum()
    assert torch.equal(some[labels != O], input_ids[labels != O])


def test_decoding_applies_the_title_rules_with_the_versions_vocabulary() -> None:
    from training.course_ner.decoding import names_in_text

    text = "I take Ethics and Foster"
    words = [(0, 1), (2, 6), (7, 13), (14, 17), (18, 24)]
    sure = {O: [0.0, -9.0, -9.0], B: [-9.0, 0.0, -9.0]}
    scores = [sure[O], sure[O], sure[B], sure[O], sure[B]]
    assert names_in_text(text, words, scores) == ["Ethics", "Foster"]
    assert names_in_text(text, words, scores, frozenset({"ethics"})) == ["Ethics"]
    # what a grade is given in, where the models found nothing, then the rules after it
    graded = "I got an A in Genetics"
    graded_words = [(0, 1), (2, 5), (6, 8), (9, 10), (11, 13), (14, 22)]
    assert names_in_text(graded, graded_words, [sure[O]] * 6, frozenset({"genetics"})) == ["Genetics"]


def test_a_bare_title_case_text_is_one_name_where_the_model_nearly_starts_one() -> None:
    from training.course_ner.decoding import names_in_text

    def scores(first_begin_margin: float, count: int) -> list[list[float]]:
        first = [0.0, first_begin_margin, -9.0]  # outside, begin, inside
        return [first] + [[0.0, -9.0, -6.0]] * (count - 1)

    def words(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"\S+", text)]

    text = "Counterpoint in the Style of Bach"
    assert names_in_text(text, words(text), scores(-0.6, 6)) == [text]
    assert names_in_text(text, words(text), scores(-4.0, 6)) == []  # a person, a place, an event
    text = "Reservoir Engineering."
    assert names_in_text(text, words(text), scores(-1.3, 2)) == ["Reservoir Engineering"]
    for not_bare in ("I like Reservoir Engineering", "Machine Learning Engineer", "Harvard, Yale and MIT"):
        assert names_in_text(not_bare, words(not_bare), scores(-0.5, len(words(not_bare)))) == []
    text = "Statistics for Engineers"
    assert names_in_text(text, words(text), scores(-0.5, 3)) == [text]


def test_generated_titles_name_languages_and_tools_but_no_evaluated_title() -> None:
    from training.course_ner.challenge import apart_examples, challenge_examples, unseen_examples
    from training.course_ner.data import generated_titles
    from training.course_ner.phrasebook import TOOLS_IN_TITLES

    tools = {tool.lower() for tool in TOOLS_IN_TITLES}
    with_tools = {t.lower() for t in generated_titles() if tools & set(t.lower().split())}
    assert {"machine learning with python", "data analysis in r", "introduction to java"} <= with_tools
    evaluated = apart_examples() + challenge_examples() + unseen_examples()
    assert not with_tools & {name.lower() for e in evaluated for name in e.names()}


def test_where_windows_overlap_a_token_is_read_from_the_window_it_lies_deepest_in() -> None:
    """The first window won everywhere, even for the tokens at its right edge, read without their
    right-hand context: names at a window's edge were merged."""
    from training.course_ner.decoding import words_of_windows

    text = "a b c d e f g h i"
    tokens = [(i, i + 1) for i in range(0, len(text), 2)]  # nine one-letter words
    first, second = tokens[:6], tokens[3:]  # the windows overlap on d, e, f
    scores = [[[float(row), 0.0, 0.0] for _ in window] for row, window in enumerate((first, second))]
    [(words, word_scores)] = words_of_windows([text], [first, second], [0, 0], scores)
    read_from = dict(zip((text[a:b] for a, b in words), (score[0] for score in word_scores), strict=True))
    assert read_from == {"a": 0, "b": 0, "c": 0, "d": 0, "e": 0, "f": 1, "g": 1, "h": 1, "i": 1}


def test_a_sentences_file_with_a_stray_bracket_or_no_utf8_is_a_usage_error(tmp_path: Path) -> None:
    """`evaluate --sentences` scored "I take [Operating Systems" as a line with no name, and a file
    that was no UTF-8 text ended in a traceback (found by a review)."""
    from training.cli import UsageError
    from training.course_ner.examples import marked_file

    good = tmp_path / "good.txt"
    good.write_text("I take [Operating Systems] and [Linear Algebra]\n\nNo course here.\n", encoding="utf-8")
    assert [example.names() for example in marked_file(good, "yours")] == [
        ["Operating Systems", "Linear Algebra"],
        [],
    ]
    stray = tmp_path / "stray.txt"
    stray.write_text("fine [Calculus]\nI take [Operating Systems\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"stray\.txt, line 2: a bracket that marks no"):
        marked_file(stray, "yours")
    not_utf8 = tmp_path / "latin1.txt"
    not_utf8.write_bytes("[Économie]".encode("latin-1"))
    with pytest.raises(UsageError, match=r"latin1\.txt is not UTF-8 text"):
        marked_file(not_utf8, "yours")


def test_a_bare_job_title_with_a_level_is_no_name() -> None:
    from training.course_ner.decoding import names_in_text

    for text in (
        "Software Engineer II",
        "Senior Data Analyst III",
        "Machine Learning Engineer 2",
        "IV",
        "I.",
    ):
        words = [m.span() for m in re.finditer(r"\S+", text)]
        scores = [[0.0, -0.5, -9.0]] + [[0.0, -9.0, -6.0]] * (len(words) - 1)
        assert names_in_text(text, words, scores) == []
