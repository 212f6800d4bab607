"""From text to model inputs and back: BIO labels, casing hints, spans from predicted tags.

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
WORD = re.compile(r"[^\W_][\w'\u2019-]*")
MAX_TOKENS = 128
STRIDE = 32


SENTENCE_BREAK = re.compile(r"[.!?:;\n]\s*$")


def capitalised_chars(text: str) -> list[int]:
    """1 for the characters of capitalised words, except a sentence's first word (capitalised anyway)."""
    flags = [0] * len(text)
    for match in WORD.finditer(text):
        starts_sentence = match.start() == 0 or bool(SENTENCE_BREAK.search(text[: match.start()]))
        if match.group()[0].isupper() and not starts_sentence:
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
    for row, text_index in enumerate(window_of):
        capital = capitalised_chars(texts[text_index])
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


def decode_spans(offsets: Sequence[tuple[int, int]], tags: Sequence[int]) -> list[tuple[int, int]]:
    """Character spans from BIO tags; an I- that follows O starts a span too."""
    spans: list[tuple[int, int]] = []
    current: list[int] | None = None
    for (start, end), tag in zip(offsets, tags, strict=True):
        if end <= start:
            continue
        if tag == BEGIN or (tag == INSIDE and current is None):
            if current:
                spans.append((current[0], current[1]))
            current = [start, end]
        elif tag == INSIDE and current is not None:
            current[1] = end
        else:
            if current:
                spans.append((current[0], current[1]))
            current = None
    if current:
        spans.append((current[0], current[1]))
    return spans


def whole_words(
    text: str, offsets: Sequence[tuple[int, int]], tags: Sequence[int]
) -> tuple[list[tuple[int, int]], list[int]]:
    """Join sub-word tokens into words; a word takes the tag of its first token.

    Tokens touch inside a word ("Ambi" + "##tious"); a span can then never start or end in the
    middle of a word.
    """
    words: list[tuple[int, int]] = []
    word_tags: list[int] = []
    for (start, end), tag in zip(offsets, tags, strict=True):
        if end <= start:
            continue
        joined = words and start == words[-1][1] and text[start - 1].isalnum() and text[start].isalnum()
        if joined:
            words[-1] = (words[-1][0], end)
        else:
            words.append((start, end))
            word_tags.append(tag)
    return words, word_tags


LEADING_FILLERS = frozenset(
    {"the", "for", "in", "of", "to", "and", "or", "a", "an", "my", "into", "on", "at"}
)


def trim_leading_fillers(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop lower-case filler words before a capitalised name ("for Managing People" -> "Managing People")."""
    trimmed = []
    for start, end in spans:
        while True:
            word_end = text.find(" ", start, end)
            if word_end == -1:
                break
            word, rest = text[start:word_end], text[word_end + 1 : end]
            if word in LEADING_FILLERS and rest[:1].isupper():
                start = word_end + 1
            else:
                break
        trimmed.append((start, end))
    return trimmed


def names_from_windows(
    texts: Sequence[str], offsets: list[list[tuple[int, int]]], window_of: list[int], tags: list[list[int]]
) -> list[list[str]]:
    """Merge the windows of each text (first window wins where they overlap), then decode."""
    per_text: list[dict[tuple[int, int], int]] = [{} for _ in texts]
    for row, text_index in enumerate(window_of):
        for offset, tag in zip(offsets[row], tags[row], strict=True):
            if offset[1] > offset[0]:
                per_text[text_index].setdefault((offset[0], offset[1]), tag)
    results = []
    for text, tokens in zip(texts, per_text, strict=True):
        ordered = sorted(tokens.items())
        words, word_tags = whole_words(text, [o for o, _ in ordered], [t for _, t in ordered])
        spans = trim_leading_fillers(text, decode_spans(words, word_tags))
        results.append([text[start:end] for start, end in spans])
    return results
