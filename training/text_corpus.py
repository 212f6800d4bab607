"""The text corpus the bigram and LSTM generators learn from: reading, word tokens, held-out split."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from shared.config import get_settings
from shared.data_files import DataFile, read_text
from training.cli import UsageError

WORD_PATTERN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|\d+|[^\sA-Za-z\d]")
NO_SPACE_BEFORE = {".", ",", ";", ":", "!", "?", "'", ")", "]"}
NO_SPACE_AFTER = {"(", "["}
HELD_OUT_FRACTION = 0.1


@dataclass(frozen=True)
class Corpus:
    train: list[str]
    held_out: list[str]
    sha256: str
    source: str


def tokenize(text: str) -> list[str]:
    return WORD_PATTERN.findall(text)


def detokenize(words: list[str]) -> str:
    text = ""
    for index, word in enumerate(words):
        glue = index == 0 or word in NO_SPACE_BEFORE or words[index - 1] in NO_SPACE_AFTER
        text += word if glue else f" {word}"
    return text


def load_corpus(path: Path | None = None) -> Corpus:
    """Settings.corpus_file or the given file, else the corpus in DATA_DIR; the last 10% is held out."""
    path = path or get_settings().corpus_file
    if path is not None:
        try:
            text, source = Path(path).read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError as error:
            raise UsageError(f"the corpus {path} is not UTF-8 text ({error})") from None
    else:
        text, source = read_text(DataFile.CORPUS), "DATA_DIR/corpus/tinyshakespeare.txt.gz"
    words = tokenize(text)
    cut = int(len(words) * (1 - HELD_OUT_FRACTION))
    return Corpus(words[:cut], words[cut:], hashlib.sha256(text.encode()).hexdigest(), source)
