"""From text to model inputs and back: BIO labels, casing hints, spans from predicted tags.

The offline base encoder is uncased, so capitalisation, a strong hint for where a course name
starts and ends, would be lost. It is given back through BERT's segment embedding: a token's
``token_type_id`` is 1 when the word it belongs to starts with a capital letter. Lower-cased
text simply has none, and the model learns to do without it there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

import torch

LABELS = ("O", "B-COURSE", "I-COURSE")
OUTSIDE, BEGIN, INSIDE = range(3)
LABELS_RANGE = (OUTSIDE, BEGIN, INSIDE)
WORD_BREAKS = frozenset(",;:.!?()[]\"'")
Score = TypeVar("Score")
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
    text: str, offsets: Sequence[tuple[int, int]], scores: Sequence[Score]
) -> tuple[list[tuple[int, int]], list[Score]]:
    """Join touching tokens into words; a word takes the scores (or tag) of its first token.

    Tokens touch inside a word ("Ambi" + "##tious", "P" + "-" + "Introduction", "EHR" + "/" +
    "HI"), so a span can never start or end in the middle of one; punctuation that ends a clause
    or quotes a name (",;:.!?()[]\"'") still stands apart.
    """
    words: list[tuple[int, int]] = []
    word_scores: list[Score] = []
    for (start, end), score in zip(offsets, scores, strict=True):
        if end <= start:
            continue
        touching = bool(words) and start == words[-1][1]
        if touching and text[start - 1] not in WORD_BREAKS and text[start] not in WORD_BREAKS:
            words[-1] = (words[-1][0], end)
        else:
            words.append((start, end))
            word_scores.append(score)
    return words, word_scores


FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "nor",
        "but",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "with",
        "by",
        "through",
        "into",
        "via",
        "vs",
        "as",
        "about",
        "after",
        "before",
        "during",
        "since",
        "until",
        "upon",
        "within",
        "without",
        "across",
        "among",
        "between",
        "over",
        "under",
        "toward",
        "towards",
        "beyond",
        "per",
        "against",
        "around",
        "along",
        "my",
    ]
)
SPAN_WORD = re.compile(r"\S+")


def _bare(word: str) -> str:
    return word.strip(",;:.!?()[]\"'")


def _is_capitalised(word: str) -> bool:
    return _bare(word)[:1].isupper()


def _is_lowercase_content(word: str) -> bool:
    bare = _bare(word)
    return bare[:1].islower() and bare.lower() not in FUNCTION_WORDS


def tidy_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Cut what cannot belong to a course title off a predicted span.

    Catalog titles are in title case: every word but the small function words is capitalised
    (all but 9 of the 6,533 real titles), and none ends in a function word. So in a span that has
    capitalised words, a lower-case content word ("sections", "final") is context: the title is
    the run between such words with the most capitalised words ("Remote sections of Web
    Technologies" -> "Web Technologies"). Function words never start a capitalised run or end any
    span ("Sports Nutrition and" -> "Sports Nutrition"). Spans with no capitals (lower-case text)
    keep their content words. None when nothing is left.
    """
    if text[start:end].endswith(" I") and text[end : end + 1] in ("'", "\u2019"):  # "Probability I'm"
        end -= 2
    opening = text.find("(", start, end)
    if opening != -1 and text.find(")", opening, end) == -1:  # "Linear Systems (EE 235": a code follows
        end = opening
    words = [(m.start() + start, m.end() + start) for m in SPAN_WORD.finditer(text[start:end])]
    if any(_is_capitalised(text[a:b]) for a, b in words):
        runs: list[list[tuple[int, int]]] = [[]]
        for a, b in words:
            if _is_lowercase_content(text[a:b]):
                runs.append([])
            else:
                runs[-1].append((a, b))
        words = max(runs, key=lambda run: sum(_is_capitalised(text[a:b]) for a, b in run))
        while words and _bare(text[words[0][0] : words[0][1]]) in FUNCTION_WORDS:
            words = words[1:]
    while words and _bare(text[words[-1][0] : words[-1][1]]) in FUNCTION_WORDS:
        words = words[:-1]
    if not words:
        return None
    first, last = words[0][0], words[-1][1]
    while last > first and text[last - 1] in ",;:-&/.":
        last -= 1
    return (first, last) if last > first else None


def tidy_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    tidied = (tidy_span(text, start, end) for start, end in spans)
    return [span for span in tidied if span is not None]


# Capitalised words that follow a course name without being part of it.
NOT_TITLE_WORDS = frozenset(
    [
        *("I", "I'm", "I've", "I'll", "I'd", "Professor", "Prof", "Dr", "Mr", "Mrs", "Ms"),
        *("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        *("January", "February", "March", "April", "May", "June", "July", "August"),
        *("September", "October", "November", "December"),
    ]
)
NEXT_WORD = re.compile(r" ([A-Z][\w'\u2019&/-]*)([,;:.!?)]*)")


def extend_through_capitals(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Carry a span on over the capitalised words that directly follow it.

    The model sometimes stops one word short of a title's end ("Global Environmental" of "Global
    Environmental Politics used to"), but a title-case word right after a name, with only a space
    between, is almost always more of it. Not over a word that starts another span, nor over
    weekdays, months, "I" or titles of people; punctuation after a word ends the extension.
    """
    starts = {start for start, _ in spans}
    extended = []
    for start, end in spans:
        while (match := NEXT_WORD.match(text, end)) and match.start(1) not in starts:
            if match.group(1) in NOT_TITLE_WORDS or text.isupper():
                break
            end = match.end(1)
            if match.group(2):
                break
        extended.append((start, end))
    return extended


def take_in_a_leading_the(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Start a span at a capitalised "The" right before it, unless the "The" starts a sentence.

    Mid-sentence, "The" is only capitalised as the first word of a title ("in The Cryosphere"); at
    a sentence's start it says nothing ("The Operating Systems final is brutal").
    """
    capital = capitalised_chars(text)
    taken = []
    for start, end in spans:
        before = start - len("The ")
        if before >= 0 and text[before:start] == "The " and capital[before]:
            start = before
        taken.append((start, end))
    return taken


def keep_consistent_case(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop all-lower-case spans from a text whose other names are capitalised.

    Someone who writes "Election Law" writes "Research Methods" too, so "research" in "she
    recommends Election Law for anyone interested in research" is not a course name. Texts written
    all in lower case keep their spans.
    """
    capital = capitalised_chars(text)
    cased = [any(capital[start:end]) for start, end in spans]
    if not any(cased):
        return spans
    return [span for span, is_cased in zip(spans, cased, strict=True) if is_cased or text[span[0]].isupper()]


CONJUNCTIONS = frozenset(["and", "&", "or"])
# Real catalog titles often hold an "and" ("Signals and Systems": 27% of the 6,533), so the model
# leans towards one long name where a message lists two ("Marketing Research and Sales
# Management"). A conjunction between words gets this much log-odds towards "outside": chosen on
# the held-out split and the hand-written sentences (see `python -m training.course_ner.evaluate`).
CONJUNCTION_OUTSIDE_BONUS = 1.0


def lean_to_split(
    text: str, words: Sequence[tuple[int, int]], word_scores: Sequence[Sequence[float]]
) -> list[list[float]]:
    """Word scores with the conjunctions' outside score raised by CONJUNCTION_OUTSIDE_BONUS."""
    leaned = []
    for (start, end), scores in zip(words, word_scores, strict=True):
        row = list(scores)
        if text[start:end].lower() in CONJUNCTIONS:
            row[OUTSIDE] += CONJUNCTION_OUTSIDE_BONUS
        leaned.append(row)
    return leaned


def best_tags(word_scores: Sequence[Sequence[float]]) -> list[int]:
    """The most likely valid BIO sequence (Viterbi over per-word log-probabilities).

    An I- tag may only follow a B- or an I-: a lone word the model is unsure of ("into",
    "tutoring") then joins the name beside it or none, instead of becoming a name of its own.
    """
    if not word_scores:
        return []
    allowed = {OUTSIDE: (OUTSIDE, BEGIN), BEGIN: (OUTSIDE, BEGIN, INSIDE), INSIDE: (OUTSIDE, BEGIN, INSIDE)}
    impossible = float("-inf")
    best = [word_scores[0][OUTSIDE], word_scores[0][BEGIN], impossible]
    back: list[list[int]] = []
    for scores in word_scores[1:]:
        step, pointers = [], []
        for tag in LABELS_RANGE:
            previous = max((p for p in LABELS_RANGE if tag in allowed[p]), key=lambda p: best[p])
            step.append(best[previous] + scores[tag])
            pointers.append(previous)
        best, back = step, [*back, pointers]
    tags = [max(LABELS_RANGE, key=lambda t: best[t])]
    for pointers in reversed(back):
        tags.append(pointers[tags[-1]])
    return tags[::-1]


def names_from_windows(
    texts: Sequence[str],
    offsets: list[list[tuple[int, int]]],
    window_of: list[int],
    scores: list[list[list[float]]],
) -> list[list[str]]:
    """Merge the windows of each text (first window wins where they overlap), then decode.

    ``scores`` holds each token's log-probabilities of the three labels.
    """
    per_text: list[dict[tuple[int, int], list[float]]] = [{} for _ in texts]
    for row, text_index in enumerate(window_of):
        for offset, token_scores in zip(offsets[row], scores[row], strict=True):
            if offset[1] > offset[0]:
                per_text[text_index].setdefault((offset[0], offset[1]), token_scores)
    results = []
    for text, tokens in zip(texts, per_text, strict=True):
        ordered = sorted(tokens.items())
        words, word_scores = whole_words(text, [o for o, _ in ordered], [t for _, t in ordered])
        tags = best_tags(lean_to_split(text, words, word_scores))
        spans = tidy_spans(text, decode_spans(words, tags))
        spans = keep_consistent_case(text, extend_through_capitals(text, take_in_a_leading_the(text, spans)))
        results.append([text[start:end] for start, end in spans])
    return results
