"""Prompt and target tokens for each question, loss masked to the answer, dynamic padding.

A context too long for the model's window is cut, and counted. For training (and the evaluation
loss, which scores the answer's tokens) the window holds the answer; for the generated answers
that EM and F1 score it is the context's first tokens, chosen without looking at the answer: a
window centred on the known answer would tell the model where it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

logger = logging.getLogger(__name__)

IGNORE = -100


def prompt_text(context: str, question: str) -> str:
    return f"Context: {context}\nQuestion: {question}\nAnswer:"


@dataclass
class Encoder:
    tokenizer: Any
    max_length: int
    truncated: int = field(default=0)

    def context_budget(self, question: str, reserved: int) -> int:
        """Tokens of the window left for the context: the rest goes to the prompt's frame around it
        (instruction and question), the ``reserved`` tokens of the answer, and two spare."""
        frame = self.tokenizer(prompt_text("", question), add_special_tokens=False)["input_ids"]
        return max(16, self.max_length - reserved - len(frame) - 2)

    def _token_offsets(self, text: str) -> list[tuple[int, int]]:
        return self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]

    def fit_context(self, context: str, answer_start: int, answer_text: str, budget: int) -> str:
        """The context, or the window of at most ``budget`` tokens around the answer."""
        offsets = self._token_offsets(context)
        if len(offsets) <= budget:
            return context
        self.truncated += 1
        answer_end = answer_start + len(answer_text)
        first = next((i for i, (_, end) in enumerate(offsets) if end > answer_start), 0)
        last = next((i for i, (start, _) in enumerate(offsets) if start >= answer_end), len(offsets)) - 1
        spare = max(0, budget - (last - first + 1))
        start = max(0, min(first - spare // 2, len(offsets) - budget))
        end = min(len(offsets), start + budget)
        # a byte-level BPE token's offsets take in the space before its word: the window would
        # start "Context:  word", where every evaluation prompt has one space
        return context[offsets[start][0] : offsets[end - 1][1]].lstrip()

    def encode(self, example: dict[str, Any]) -> dict[str, list[int]]:
        answer = example["answers"]["text"][0]
        target = self.tokenizer(" " + answer, add_special_tokens=False)["input_ids"] + [
            self.tokenizer.eos_token_id
        ]
        budget = self.context_budget(example["question"], reserved=len(target))
        context = self.fit_context(example["context"], example["answers"]["answer_start"][0], answer, budget)
        prompt = self.tokenizer(prompt_text(context, example["question"]), add_special_tokens=False)[
            "input_ids"
        ]
        input_ids = (prompt + target)[: self.max_length]
        labels = ([IGNORE] * len(prompt) + target)[: self.max_length]
        return {"input_ids": input_ids, "labels": labels}

    def prompt_only(self, example: dict[str, Any], room_for_answer: int) -> str:
        """The prompt alone, leaving ``room_for_answer`` tokens of the window for generation; a long
        context keeps its first tokens, whatever the answer (which may then be cut off)."""
        budget = self.context_budget(example["question"], reserved=room_for_answer)
        offsets = self._token_offsets(example["context"])
        context = example["context"]
        if len(offsets) > budget:
            self.truncated += 1
            context = context[: offsets[budget - 1][1]]
        return prompt_text(context, example["question"])


def encoded_with_targets(encoder: Encoder, examples: Iterable[dict[str, Any]]) -> list[dict[str, list[int]]]:
    """Each example encoded, less those whose answer and end-of-sequence the window does not hold
    whole (a question so long that its prompt fills ``max_length``, or an answer too long for what
    is left): a batch of only answers cut off entirely has no token to score, and its loss is NaN;
    an answer cut short would teach the model not to stop."""
    return first_with_targets(encoder, examples, count=None)


def first_with_targets(
    encoder: Encoder, examples: Iterable[dict[str, Any]], count: int | None
) -> list[dict[str, list[int]]]:
    """The first ``count`` examples (all, if None) encoded whose answer fits the window, as
    ``encoded_with_targets`` keeps them: a question left out is made up for by the next one."""
    kept: list[dict[str, list[int]]] = []
    left_out = 0
    for example in examples:
        if count is not None and len(kept) == count:
            break
        feature = encoder.encode(example)
        if feature["labels"][-1] == encoder.tokenizer.eos_token_id:  # the whole target fits
            kept.append(feature)
        else:
            left_out += 1
    if left_out:
        logger.info("left out %d questions: their answer does not fit the window whole", left_out)
    return kept


def collate(pad_id: int) -> Callable[[list[dict[str, list[int]]]], dict[str, torch.Tensor]]:
    """Pad each batch to its own longest example (right padding for training)."""

    def pad(batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(item["input_ids"]) for item in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            n = len(item["input_ids"])
            ids[row, :n] = torch.tensor(item["input_ids"])
            labels[row, :n] = torch.tensor(item["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return pad
