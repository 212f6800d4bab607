"""A trained extractor as one object: what finds course names in a batch of texts.

Its encoder members vote by the mean of their label log-probabilities, an echo member
(`echo_member.py`) by ``echo_weight`` of the vote, and the decoder turns the words' scores into
names shaped by the vocabulary of the titles it trained on. Training, the evaluation CLI and the
inference worker all predict through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AutoTokenizer, PreTrainedModel

from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from training.course_ner.decoding import names_in_text, words_of_windows
from training.course_ner.echo_member import (
    Echo,
    WordScores,
    combine_word_scores,
    echo_weight_of,
    echo_word_scores,
    load_echo_member,
)
from training.course_ner.encoding import encode
from training.course_ner.model import load_ensemble, load_one_word_titles, load_title_words
from training.device import uses_bf16


@dataclass(frozen=True)
class Extractor:
    """The encoder members (sharing one tokenizer), the training titles' words, and an optional
    echo member with the weight of its vote."""

    members: Sequence[PreTrainedModel]
    tokenizer: Any
    title_words: frozenset[str] = frozenset()
    one_word_titles: frozenset[str] | None = None
    echo: Echo | None = None
    echo_weight: float = 0.0

    def to(self, device: torch.device) -> Extractor:
        """Every model of the extractor moved to the device, in inference mode. With an echo member,
        whether it reads in bfloat16 there is decided now (a timed step on a CPU, about half a
        second, cached), so that the worker's first request does not pay for it."""
        for model in self.models:
            model.to(device).eval()
        if self.echo is not None:
            uses_bf16(device, requested=True)
        return self

    @property
    def models(self) -> list[PreTrainedModel]:
        return [*self.members, *([self.echo[0]] if self.echo else [])]

    def _word_scores(self, texts: list[str]) -> list[WordScores]:
        """Each text's words and their label log-probabilities by the whole vote."""
        encoded = encode(self.tokenizer, texts)
        device = next(self.members[0].parameters()).device
        inputs = {k: v.to(device) for k, v in encoded["model_inputs"].items()}
        log_probs = torch.stack([model(**inputs).logits.float().log_softmax(-1) for model in self.members])
        words = words_of_windows(texts, encoded["offsets"], encoded["window_of"], log_probs.mean(0).tolist())
        if self.echo is None:
            return words
        echo_words = echo_word_scores(*self.echo, texts)
        return [combine_word_scores(w, e, self.echo_weight) for w, e in zip(words, echo_words, strict=True)]

    @torch.inference_mode()
    def predict(self, texts: list[str], batch_size: int = 64) -> list[list[str]]:
        """Each text's course names, ``batch_size`` texts per forward pass."""
        for model in self.models:
            model.eval()
        results: list[list[str]] = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            scored = zip(chunk, self._word_scores(chunk), strict=True)
            results += [
                names_in_text(text, *words, self.title_words, self.one_word_titles) for text, words in scored
            ]
        return results


def chosen_version(store: ModelStore, version_id: str | None = None) -> ModelVersion:
    """The extractor's version with that id, else the served one."""
    model = ModelName.COURSE_EXTRACTOR
    version = store.get(model, version_id) if version_id else store.served_version(model)
    if version is None:
        raise LookupError(
            f"no course-extractor version {version_id or 'served'} in the store: "
            "`python -m training.course_ner` trains one"
        )
    return version


def load_extractor(version: ModelVersion) -> Extractor:
    """A published version's extractor, on the CPU."""
    return Extractor(
        members=load_ensemble(version.path),
        tokenizer=AutoTokenizer.from_pretrained(version.path),
        title_words=load_title_words(version.path),
        one_word_titles=load_one_word_titles(version.path),
        echo=load_echo_member(version.path),
        echo_weight=echo_weight_of(version.metadata),
    )
