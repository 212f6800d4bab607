"""Sentences written by hand for training, and the same sentences with other titles in them.

The files of `written_sentences/` hold realistic text written for the project by writers who saw
none of its templates or evaluation sentences: student chat and forum posts, staff email and
catalog text, resumes and online-learning talk, longer descriptive text full of other capitalised
names, international modules, course names in everyday notes, school, trade and hobby classes, and
look-alikes that are no course (textbooks, majors, programs). Each file gives one marked sentence
per line (names in square brackets). A sentence with names trains only refilled, its names
replaced by training titles, so that what is learnt is the text around names, not the titles its
writer happened to pick.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

from training.course_ner.examples import Example, marked_file

WRITTEN_SENTENCES_DIR = Path(__file__).with_name("written_sentences")

Respelling = Callable[[random.Random, str], str]


def _as_drawn(rng: random.Random, title: str) -> str:
    return title


def written_sentences() -> list[Example]:
    """Every written sentence, labelled by its file ("written:chat", ...)."""
    return [
        example
        for path in sorted(WRITTEN_SENTENCES_DIR.glob("*.txt"))
        for example in marked_file(path, f"written:{path.stem}")
    ]


def refill(
    rng: random.Random, example: Example, titles: Sequence[str], respell: Respelling = _as_drawn
) -> Example:
    """The sentence with each name replaced by a drawn title, lower-cased where the name was;
    ``respell`` may then change how the title is written (shorten it, say)."""
    text, spans, cursor = "", [], 0
    for start, end in example.spans:
        name = example.text[start:end]
        title = rng.choice(titles)
        title = title.lower() if name == name.lower() else title
        title = respell(rng, title)
        text += example.text[cursor:start]
        spans.append((len(text), len(text) + len(title)))
        text += title
        cursor = end
    return Example(text + example.text[cursor:], tuple(spans), example.template)


def written_examples(
    rng: random.Random, titles: Sequence[str], refills: int, respell: Respelling = _as_drawn
) -> list[Example]:
    """Each written sentence with no name as written; each with names ``refills`` times, with
    training titles in place of its names.

    The writers' own titles never train: many are titles anyone would pick ("Linear Algebra"),
    the same that other writers pick for the sentences the extractor is evaluated on.
    """
    examples = []
    for example in written_sentences():
        if example.spans:
            examples += [refill(rng, example, titles, respell) for _ in range(refills)]
        else:
            examples.append(example)
    return examples
