"""From text to model inputs: tokens with casing hints, in windows, and their BIO labels.

The offline base encoder is uncased, so capitalisation, a strong hint for where a course name
starts and ends, would be lost. It is given back through BERT's segment embedding: a token's
``token_type_id`` is 1 when the word it belongs to starts with a capital letter. Lower-cased
text simply has none, and the model learns to do without it there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch

LABELS = ("O", "B-COURSE", "I-COURSE")
OUTSIDE, BEGIN, INSIDE = range(3)
LABELS_RANGE = (OUTSIDE, BEGIN, INSIDE)
WORD = re.compile(r"[^\W_][\w'\u2019-]*")
MAX_TOKENS = 128
STRIDE = 32


SENTENCE_BREAKS = frozenset(".!?:;\n")


def sentence_starts(text: str) -> list[bool]:
    """For each position, whether a sentence starts there: the text's first character, or one
    after only whitespace since the last of ``SENTENCE_BREAKS``. One pass: a search back from every
    word took minutes for a text of 5,000 characters of newlines and punctuation."""
    starts, after_break = [], False
    for index, char in enumerate(text):
        starts.append(after_break or index == 0)
        if char in SENTENCE_BREAKS:
            after_break = True
        elif not char.isspace():
            after_break = False
    return starts


def capitalised_chars(text: str) -> list[int]:
    """1 for the characters of capitalised words, except a sentence's first word (capitalised anyway)."""
    flags = [0] * len(text)
    starts = sentence_starts(text)
    for match in WORD.finditer(text):
        if match.group()[0].isupper() and not starts[match.start()]:
            flags[match.start() : match.end()] = [1] * (match.end() - match.start())
    return flags


def encode(tokenizer: Any, texts: Sequence[str]) -> dict[str, Any]:
    """Tokenise with offsets; long texts become several overlapping windows (``window_of``)."""
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=MAX_TOKENS,
        stride=STRIDE,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=True,
        return_tensors="pt",
    )
    window_of = encoded.pop("overflow_to_sample_mapping").tolist()
    offsets = encoded.pop("offset_mapping").tolist()
    token_types = torch.zeros_like(encoded["input_ids"])
    capitals: dict[int, list[int]] = {}
    for row, text_index in enumerate(window_of):
        if text_index not in capitals:  # once per text, not per window
            capitals[text_index] = capitalised_chars(texts[text_index])
        capital = capitals[text_index]
        for column, (start, end) in enumerate(offsets[row]):
            if end > start and capital[start]:
                token_types[row, column] = 1
    encoded["token_type_ids"] = token_types
    return {"model_inputs": encoded, "offsets": offsets, "window_of": window_of}


def bio_labels(offsets: list[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> list[int]:
    """One label per token; special and padding tokens get -100 (ignored by the loss)."""
    labels = []
    for start, end in offsets:
        if end <= start:
            labels.append(-100)
            continue
        label = OUTSIDE
        for span_start, span_end in spans:
            if span_start <= start < span_end:
                label = BEGIN if start == span_start else INSIDE
                break
        labels.append(label)
    return labels
