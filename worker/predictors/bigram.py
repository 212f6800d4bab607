"""Generate text from the word bigram counts."""

from __future__ import annotations

import json
from typing import Any

import torch

from shared.model_store import ModelVersion
from training.bigram import COUNTS_FILE
from training.text_corpus import detokenize, tokenize
from worker.sampling import SamplingParams, sample

SENTENCE_END = "."


class BigramPredictor:
    def __init__(self, version: ModelVersion) -> None:
        self.version = version.version
        table: dict[str, dict[str, int]] = json.loads((version.path / COUNTS_FILE).read_text())
        self._rows = {
            word: (list(counts), torch.tensor(list(counts.values()), dtype=torch.float))
            for word, counts in table.items()
        }
        self._lower = {word.lower(): word for word in self._rows}
        # what follows an unknown word: what starts a sentence, or in a corpus with no "." what
        # follows its most common word
        self._fallback = self._rows.get(SENTENCE_END) or max(
            self._rows.values(), key=lambda row: row[1].sum()
        )

    def _row_for(self, word: str) -> tuple[list[str], torch.Tensor]:
        """Known word, else its other casing, else the fallback."""
        known = self._rows.get(word) or self._rows.get(self._lower.get(word.lower(), ""))
        return known or self._fallback

    def _generate(self, item: dict[str, Any]) -> str:
        params = SamplingParams.from_input(item)
        generator = params.generator()
        start_words = tokenize(item["start_word"]) or [item["start_word"]]
        words = list(start_words)
        for _ in range(item["length"]):
            candidates, counts = self._row_for(words[-1])
            words.append(candidates[sample(torch.log(counts), params, generator)])
        continuation = detokenize(words[len(start_words) - 1 :])[len(start_words[-1]) :]
        return item["start_word"] + continuation

    def predict_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Counting models have no forward pass to share: each row is a few dictionary lookups.
        return [{"generated_text": self._generate(item)} for item in inputs]


def load(version: ModelVersion, device: torch.device) -> BigramPredictor:
    return BigramPredictor(version)
