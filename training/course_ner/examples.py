"""A sentence with the character spans of its course names, and reading sentences marked by hand.

A marked sentence puts each course name in square brackets ("I'm taking [Operating Systems]");
the brackets are removed before the text reaches the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from training.cli import UsageError, read_utf8

MARKED_NAME = re.compile(r"\[([^\]]+)\]")


@dataclass(frozen=True)
class Example:
    text: str
    spans: tuple[tuple[int, int], ...]  # character offsets of each course name
    template: str = ""  # the sentence shape it came from (before wrapping and list expansion)

    def names(self) -> list[str]:
        return [self.text[start:end] for start, end in self.spans]


def marked_examples(lines: list[str], label: str) -> list[Example]:
    """Examples from sentences whose course names are in square brackets."""
    examples = []
    for marked in lines:
        text, spans, cursor = "", [], 0
        for match in MARKED_NAME.finditer(marked):
            text += marked[cursor : match.start()]
            spans.append((len(text), len(text) + len(match.group(1))))
            text += match.group(1)
            cursor = match.end()
        text += marked[cursor:]
        examples.append(Example(text, tuple(spans), label))
    return examples


def marked_file(path: Path, label: str) -> list[Example]:
    """Examples from a file of marked sentences, one per line; blank lines are skipped. A file that
    is no UTF-8 text, or a line with a bracket that marks no name, is a UsageError naming the line:
    such a line was scored as one with no name."""
    lines = read_utf8(path, path.name).splitlines()
    for number, line in enumerate(lines, start=1):
        unmarked = MARKED_NAME.sub("", line)
        if "[" in unmarked or "]" in unmarked:
            raise UsageError(
                f"{path.name}, line {number}: a bracket that marks no [name]: {line.strip()[:80]}"
            )
    return marked_examples([line for line in lines if line.strip()], label)
