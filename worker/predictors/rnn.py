"""Generate text with the word LSTM: each row's prompt sets its state, then one batched step per word."""

from __future__ import annotations

from typing import Any

import torch

from shared.model_store import ModelVersion
from training.rnn.model import load as load_lstm
from training.text_corpus import detokenize, tokenize
from worker.sampling import SamplingParams, sample


class RnnPredictor:
    def __init__(self, version: ModelVersion, device: torch.device) -> None:
        self.version = version.version
        self.device = device
        self.model, self.vocabulary = load_lstm(version.path, device)

    def _prompt_ids(self, start_word: str) -> list[int]:
        words = tokenize(start_word) or [start_word]
        ids = self.vocabulary.ids(words)
        # An unknown word in another casing is often known ("Thee" -> "thee").
        ids = [
            self.vocabulary.index.get(word.lower(), i) if i == self.vocabulary.unknown_id else i
            for word, i in zip(words, ids, strict=True)
        ]
        # Read after a sentence's end, as a text's first word is: from the zero state the LSTM
        # hardly reads its first word (trained on it once in each 32-word window), and "ROMEO" alone
        # was followed by ":" at 0.005 against 0.904 after ".".
        sentence_end = self.vocabulary.index.get(".")
        return ids if sentence_end is None else [sentence_end, *ids]

    @torch.inference_mode()
    def predict_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        states, last_logits = [], []
        for item in inputs:
            ids = torch.tensor([self._prompt_ids(item["start_word"])], device=self.device)
            logits, (hidden, cell) = self.model(ids)
            states.append((hidden, cell))
            last_logits.append(logits[0, -1])
        hidden = torch.cat([h for h, _ in states], dim=1)
        cell = torch.cat([c for _, c in states], dim=1)
        logits = torch.stack(last_logits)
        params = [SamplingParams.from_input(item) for item in inputs]
        generators = [p.generator() for p in params]
        generated: list[list[str]] = [[] for _ in inputs]
        unknown = self.vocabulary.unknown_id
        for step in range(max(int(item["length"]) for item in inputs)):
            logits[:, unknown] = float("-inf")  # never say "<unk>"
            next_ids = []
            for row, item in enumerate(inputs):
                token = sample(logits[row], params[row], generators[row])
                if step < int(item["length"]):
                    generated[row].append(self.vocabulary.words[token])
                next_ids.append(token)
            step_logits, (hidden, cell) = self.model(
                torch.tensor(next_ids, device=self.device).unsqueeze(1), (hidden, cell)
            )
            logits = step_logits[:, -1]
        outputs = []
        for item, words in zip(inputs, generated, strict=True):
            last = (tokenize(item["start_word"]) or [item["start_word"]])[-1]
            continuation = detokenize([last, *words])[len(last) :]
            outputs.append({"generated_text": item["start_word"] + continuation})
        return outputs


def load(version: ModelVersion, device: torch.device) -> RnnPredictor:
    return RnnPredictor(version, device)
