"""The text corpus the bigram and LSTM generators learn from: reading, word tokens, held-out split."""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from shared.config import get_settings
from shared.data_files import DataFile, read_text
from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from training.cli import read_utf8

logger = logging.getLogger(__name__)


def _combining_marks() -> str:
    r"""A character class of the combining marks ("ि" of हिन्दी, a decomposed accent), which
    Python's ``\w`` leaves out: the letters' own marks, part of the word."""
    marks = [code for code in range(0x300, 0x10000) if unicodedata.category(chr(code)).startswith("M")]
    ranges, start = [], marks[0]
    for previous, code in itertools.pairwise([*marks, -1]):
        if code != previous + 1:
            ranges.append(f"\\u{start:04x}" + (f"-\\u{previous:04x}" if previous > start else ""))
            start = code
    return "".join(ranges)


_LETTER = rf"(?:[^\W\d_]|[{_combining_marks()}])"
# A word: letters of any script with their marks ("München", "हिन्दी"), with the apostrophes inside
# it ("that's") and one before it ("'tis", "'em"); a number; or one mark of punctuation.
WORD_PATTERN = re.compile(rf"['\u2019]?{_LETTER}+(?:['\u2019]{_LETTER}+)*|\d+|[^\w\s]|_")
# "-" on both: "well-beloved" and "hither--" as the corpus writes them, not "well - beloved"
NO_SPACE_BEFORE = {".", ",", ";", ":", "!", "?", "'", "\u2019", ")", "]", "-"}
NO_SPACE_AFTER = {"(", "[", "-"}
HELD_OUT_FRACTION = 0.1


@dataclass(frozen=True)
class Corpus:
    train: list[str]
    held_out: list[str]
    sha256: str
    source: str


def tokenize(text: str) -> list[str]:
    return WORD_PATTERN.findall(unicodedata.normalize("NFC", text))


def detokenize(words: list[str]) -> str:
    text = ""
    for index, word in enumerate(words):
        glue = index == 0 or word in NO_SPACE_BEFORE or words[index - 1] in NO_SPACE_AFTER
        text += word if glue else f" {word}"
    return text


def _read_file(path: Path) -> str:
    # a fine-tune job that imports the base reports this error to its client
    return read_utf8(path, f"the corpus {Path(path).name!r}")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_corpus(path: Path | None = None) -> Corpus:
    """Settings.corpus_file or the given file, else the corpus in DATA_DIR; the last 10% is held out."""
    path = path or get_settings().corpus_file
    if path is not None:
        # absolute: GET /models shows only its last part (a relative one would show the host's folders)
        text, source = _read_file(path), str(Path(path).resolve())
    else:
        text, source = read_text(DataFile.CORPUS), "DATA_DIR/corpus/tinyshakespeare.txt.gz"
    words = tokenize(text)
    cut = int(len(words) * (1 - HELD_OUT_FRACTION))
    return Corpus(words[:cut], words[cut:], _sha256(text), source)


def served_for_corpus_setting(store: ModelStore, model: ModelName) -> ModelVersion | None:
    """The served version of a generator, or None when CORPUS_FILE is set and names a text it
    was not trained on (the setting changed since): ``make run`` then trains one on it, as it does
    for a changed LLM_BASE. Unset, any served version stands, one trained with ``--corpus`` too."""
    served = store.served_version(model)
    path = get_settings().corpus_file
    if served is None or path is None:
        return served
    if served.metadata.get("data_sha256") == _sha256(_read_file(path)):
        return served
    logger.info(
        "%s version %s was trained on %s, not on CORPUS_FILE (%s): training one on it",
        model.value,
        served.version,
        served.metadata.get("corpus", "another corpus"),
        path,
    )
    return None
