"""From the model's per-token scores back to course names in the text.

Tokens are joined into words, the most likely valid BIO sequence is chosen per text, and the spans
it gives are then shaped by what a course title can be (`title_rules`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from typing import TypeVar

from training.course_ner.encoding import BEGIN, INSIDE, OUTSIDE
from training.course_ner.title_rules import (
    FUNCTION_WORDS,
    TITLE_LINK_WORDS,
    WORD_TRIM,
    add_ap_classes,
    add_class_short_forms,
    add_names_a_class_part_is_of,
    add_names_after_a_grade,
    add_numbered_subjects,
    add_subjects_that_meet,
    complete_pairs_of_subjects,
    drop_books,
    drop_institution_names,
    drop_items_of_a_skills_line,
    drop_languages_and_headings,
    drop_programs,
    drop_the_before_a_kind_of_course,
    drop_unknown_single_words,
    extend_over_a_course_number,
    extend_over_a_last_and_word,
    extend_through_capitals,
    join_a_lone_word_to_the_next,
    join_a_numbered_subject_to_its_title,
    join_a_subtitle,
    join_names_a_space_apart,
    keep_consistent_case,
    merge_quoted_title,
    split_after_a_course_number,
    split_at_line_breaks,
    split_at_slashes,
    split_before_a_capitalised_the,
    split_before_an_opening_word,
    split_both_names,
    split_lists_of_subjects,
    split_the_last_of_a_list,
    take_in_a_leading_the,
    tidy_spans,
)

# Marks that stand apart from the words they touch: those a word is stripped of to be looked at
# (clause punctuation, quotes, Markdown's emphasis, HTML's brackets), bars, ellipses and dashes.
WORD_BREAKS = frozenset(WORD_TRIM + "|\u2026\u2013\u2014")
Score = TypeVar("Score")


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
        # the uncased tokenizer strips accents, and a token's offsets leave out a combining mark
        # after its last letter ("I" + U+0301, as macOS input writes "Í"): the word keeps it
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1
        touching = bool(words) and start == words[-1][1]
        if touching and text[start - 1] not in WORD_BREAKS and text[start] not in WORD_BREAKS:
            words[-1] = (words[-1][0], end)
        else:
            words.append((start, end))
            word_scores.append(score)
    return words, word_scores


CONJUNCTIONS = frozenset(["and", "&", "or"])
LINKING_CONJUNCTIONS = frozenset(["and", "&"])  # those a title may hold one of
# Real catalog titles often hold an "and" ("Signals and Systems": 27% of the 6,533), so the model
# leans towards one long name where a message lists two ("Marketing Research and Sales
# Management"). A conjunction between words gets this much log-odds towards "outside": chosen on
# the held-out split and the hand-written sentences (see `python -m training.course_ner.evaluate`).
CONJUNCTION_OUTSIDE_BONUS = 1.0


# "Abnormal Psychology and Developmental Psychology", "Programming Methodology and Programming
# Abstractions": where the capitalised words on both sides of an "and" share a word, the "and"
# almost always joins two names. 15 of the 6,533 catalog titles have that shape with two or more
# words a side ("Policy Process and Policy Analysis"); this many more log-odds go to "outside".
SHARED_WORD_OUTSIDE_BONUS = 2.0
SIDE_WORDS = 4  # capitalised words looked at on each side of the "and"


def _capitalised_side(text: str, words: Sequence[tuple[int, int]], indices: range) -> list[str]:
    """The capitalised words (and function words between them) next to a conjunction, nearest first,
    up to the first word that is neither; function words at the far end left off."""
    side: list[str] = []
    for index in indices:
        word = text[slice(*words[index])]
        if len(side) == SIDE_WORDS or not (word[:1].isupper() or word.lower() in FUNCTION_WORDS):
            break
        side.append(word)
    while side and side[-1].lower() in FUNCTION_WORDS:
        side.pop()
    return side


def _sides_share_a_word(text: str, words: Sequence[tuple[int, int]], index: int) -> bool:
    """Whether two or more capitalised words before and after the conjunction at ``index`` share one
    that is not a function word."""
    before = _capitalised_side(text, words, range(index - 1, -1, -1))
    after = _capitalised_side(text, words, range(index + 1, len(words)))
    if len(before) < 2 or len(after) < 2:
        return False
    content = {word.lower() for word in before if word.lower() not in FUNCTION_WORDS}
    return any(word.lower() in content for word in after if word.lower() not in FUNCTION_WORDS)


def lean_to_split(
    text: str, words: Sequence[tuple[int, int]], word_scores: Sequence[Sequence[float]]
) -> list[list[float]]:
    """Word scores with the conjunctions' outside score raised by CONJUNCTION_OUTSIDE_BONUS, and an
    "and" between capitalised words that share a word by SHARED_WORD_OUTSIDE_BONUS more."""
    leaned = []
    for index, ((start, end), scores) in enumerate(zip(words, word_scores, strict=True)):
        row, word = list(scores), text[start:end].lower()
        if word in CONJUNCTIONS:
            row[OUTSIDE] += CONJUNCTION_OUTSIDE_BONUS
            if word in LINKING_CONJUNCTIONS and _sides_share_a_word(text, words, index):
                row[OUTSIDE] += SHARED_WORD_OUTSIDE_BONUS
        leaned.append(row)
    return leaned


# What a word is to the span rule of `best_tags`.
PLAIN_WORD, LINKING_CONJUNCTION, LIST_PUNCTUATION = 0, 1, 2
LIST_MARKS = frozenset(",:;")


def word_kinds(text: str, words: Sequence[tuple[int, int]]) -> list[int]:
    """Each word as the span rule sees it: "and"/"&", a comma, colon or semicolon, or a plain word."""
    kinds = []
    for start, end in words:
        word = text[start:end].lower()
        if word in LINKING_CONJUNCTIONS:
            kinds.append(LINKING_CONJUNCTION)
        elif word in LIST_MARKS:
            kinds.append(LIST_PUNCTUATION)
        else:
            kinds.append(PLAIN_WORD)
    return kinds


# Viterbi states: outside; the first word of a name (an "and" itself or not); then inside a name
# that has so far held no "and", one "and", or a comma or colon (after which any number may follow).
_OUT, _FIRST, _FIRST_AND, _NO_AND, _ONE_AND, _LISTED = range(6)
_TAG_OF_STATE = (OUTSIDE, BEGIN, BEGIN, INSIDE, INSIDE, INSIDE)


def _inside_state(previous: int, kind: int) -> int | None:
    """The state a name is in after one more word of ``kind``; None where the name cannot go on."""
    if previous == _OUT:
        return None  # an I- only after a B- or an I-
    if previous == _LISTED or kind == LIST_PUNCTUATION:
        return _LISTED
    if kind == LINKING_CONJUNCTION:
        return _ONE_AND if previous in (_FIRST, _NO_AND) else None
    return {_FIRST: _NO_AND, _FIRST_AND: _ONE_AND}.get(previous, previous)


def best_tags(word_scores: Sequence[Sequence[float]], kinds: Sequence[int] | None = None) -> list[int]:
    """The most likely valid BIO sequence (Viterbi over per-word log-probabilities).

    An I- tag may only follow a B- or an I-: a lone word the model is unsure of ("into",
    "tutoring") then joins the name beside it or none, instead of becoming a name of its own.

    With ``kinds`` (from `word_kinds`), a name holds a second "and" only after a comma or colon:
    "Land Law and Equity and Trusts" is two names, and the model's scores choose where to cut.
    0.6% of catalog titles hold two "and"s with no comma or colon before the second ("Pulp and
    Paper Lab and Field Studies"); lists of titles joined by "and" are far more common in what
    people write ("Sociology of Gender and Race and Ethnicity in America").
    """
    if not word_scores:
        return []
    kinds = list(kinds) if kinds is not None else [PLAIN_WORD] * len(word_scores)
    impossible = float("-inf")
    first = word_scores[0]
    states = range(len(_TAG_OF_STATE))
    best = [impossible] * len(states)
    best[_OUT] = first[OUTSIDE]
    best[_FIRST_AND if kinds[0] == LINKING_CONJUNCTION else _FIRST] = first[BEGIN]
    back: list[list[int]] = []
    for scores, kind in zip(word_scores[1:], kinds[1:], strict=True):
        step = [impossible] * len(states)
        pointers = [_OUT] * len(states)
        for previous, previous_score in enumerate(best):
            if previous_score == impossible:
                continue
            targets = [(_OUT, OUTSIDE), (_FIRST_AND if kind == LINKING_CONJUNCTION else _FIRST, BEGIN)]
            inside = _inside_state(previous, kind)
            if inside is not None:
                targets.append((inside, INSIDE))
            for state, tag in targets:
                if previous_score + scores[tag] > step[state]:
                    step[state] = previous_score + scores[tag]
                    pointers[state] = previous
        best = step
        back.append(pointers)
    path = [max(states, key=lambda state: best[state])]
    for pointers in reversed(back):
        path.append(pointers[path[-1]])
    return [_TAG_OF_STATE[state] for state in path[::-1]]


def words_of_windows(
    texts: Sequence[str],
    offsets: list[list[tuple[int, int]]],
    window_of: list[int],
    scores: list[list[list[float]]],
) -> list[tuple[list[tuple[int, int]], list[list[float]]]]:
    """Each text's words and their scores, its windows merged: where windows overlap, a token
    takes its scores from the window it lies deepest in (the first, on a tie). At a window's edge
    a token has no context on one side: taken from there, names that met a window's edge were
    read wrong ("Theory, and Ethics and Introduction to Labor Studies" as one).

    ``scores`` holds each token's log-probabilities of the three labels.
    """
    per_text: list[dict[tuple[int, int], tuple[int, list[float]]]] = [{} for _ in texts]
    for row, text_index in enumerate(window_of):
        tokens = [
            ((start, end), token_scores)
            for (start, end), token_scores in zip(offsets[row], scores[row], strict=True)
            if end > start
        ]
        for position, (offset, token_scores) in enumerate(tokens):
            depth = min(position, len(tokens) - 1 - position)  # tokens to the nearer edge
            kept = per_text[text_index].get(offset)
            if kept is None or depth > kept[0]:
                per_text[text_index][offset] = (depth, token_scores)
    merged = []
    for text, tokens_of_text in zip(texts, per_text, strict=True):
        ordered = sorted(tokens_of_text.items())
        merged.append(whole_words(text, [o for o, _ in ordered], [t for _, (_, t) in ordered]))
    return merged


# A text that is one title-case phrase and nothing else is most often a course typed alone to see
# what the extractor makes of it ("Reservoir Engineering", "Counterpoint in the Style of Bach"): the
# model, which reads names in sentences, scores some of them a little under a name. There a first
# word the model gives a name's start within BARE_TITLE_MARGIN of outside makes the whole phrase a
# name. People, places, schools and events alone score 4 to 8 under (and `drop_institution_names`
# still applies); a job title alone is none ("Machine Learning Engineer", not "... for Engineers").
BARE_TITLE = re.compile(
    rf"[ \t]*(?P<title>[A-Z][\w'\u2019&/-]*(?:[ \t]+(?:(?:{TITLE_LINK_WORDS})[ \t]+)*"
    r"(?:[A-Z][\w'\u2019&/-]*|\d{1,3}[A-Z]?))*)[ \t]*[.!]?[ \t]*"
)
LEVEL = re.compile(r"\d{1,3}|I{1,3}|IV|V")  # "Software Engineer II" is a job title still
BARE_TITLE_MARGIN = 2.0
BARE_TITLE_MOST_WORDS = 10
JOB_WORDS = frozenset(
    ["engineer", "developer", "scientist", "designer", "specialist", "technician", "teacher", "manager",
     "consultant", "nurse", "intern", "officer", "coordinator", "director", "lead", "analyst"]
)  # fmt: skip


def name_a_bare_title(
    text: str,
    words: Sequence[tuple[int, int]],
    word_scores: Sequence[Sequence[float]],
    spans: list[tuple[int, int]],
) -> list[tuple[int, int]]:
    """The whole text as one name where it is a bare title-case phrase (`BARE_TITLE`) the model found
    no name in and whose first word it scores within BARE_TITLE_MARGIN of a name's start."""
    bare = BARE_TITLE.fullmatch(text)
    if spans or not bare or not words or len(words) > BARE_TITLE_MOST_WORDS:
        return spans
    title = [word for word in bare.group("title").split() if not LEVEL.fullmatch(word)]
    if not title or (title[-1].lower() in JOB_WORDS and "for" not in title):
        return spans  # "IV" alone, "Software Engineer II"
    first = word_scores[0]
    if first[BEGIN] - first[OUTSIDE] < -BARE_TITLE_MARGIN:
        return spans
    return [bare.span("title")]


def names_in_text(
    text: str,
    words: Sequence[tuple[int, int]],
    word_scores: Sequence[Sequence[float]],
    title_words: Collection[str] = frozenset(),
    known_one_word_titles: Collection[str] | None = None,
) -> list[str]:
    """The course names of one text: the best tag sequence, then the title rules.

    ``title_words``: the vocabulary of the titles the model trained on; empty, no word is unknown.
    ``known_one_word_titles``: its titles of one word; None, a lone word is never joined to the
    name after it (`join_a_lone_word_to_the_next`)."""
    tags = best_tags(lean_to_split(text, words, word_scores), word_kinds(text, words))
    spans = name_a_bare_title(text, words, word_scores, split_at_line_breaks(text, decode_spans(words, tags)))
    spans = add_names_a_class_part_is_of(text, add_names_after_a_grade(text, spans, title_words))
    spans = join_names_a_space_apart(text, tidy_spans(text, split_before_a_capitalised_the(text, spans)))
    spans = take_in_a_leading_the(text, merge_quoted_title(text, spans))
    spans = drop_the_before_a_kind_of_course(text, extend_through_capitals(text, spans))
    spans = keep_consistent_case(text, spans)
    spans = drop_books(text, drop_programs(text, spans))
    spans = join_a_lone_word_to_the_next(
        text, join_a_subtitle(text, join_a_numbered_subject_to_its_title(text, spans)), known_one_word_titles
    )
    spans = drop_institution_names(text, drop_unknown_single_words(text, spans, title_words))
    spans = extend_over_a_course_number(text, spans)
    spans = extend_over_a_last_and_word(text, spans, title_words)
    spans = drop_items_of_a_skills_line(text, drop_languages_and_headings(text, spans))
    spans = split_both_names(text, split_lists_of_subjects(text, spans))
    spans = complete_pairs_of_subjects(text, add_ap_classes(text, add_class_short_forms(text, spans)))
    spans = split_after_a_course_number(
        text, split_at_slashes(text, split_before_an_opening_word(text, spans))
    )
    spans = split_the_last_of_a_list(text, spans)
    spans = add_numbered_subjects(text, add_subjects_that_meet(text, spans, known_one_word_titles))
    return [text[start:end] for start, end in spans]
