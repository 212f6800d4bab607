"""``python -m training.course_ner.evaluate``: score the served extractor and show its mistakes.

Scores the held-out split (titles and sentence shapes never trained on), the hand-written
challenge sentences, the unseen sentences (written apart from the project, with titles that never
train) and the four sets of `apart_sentences/` (written by helpers that saw nothing of the
project), then prints every sentence it got wrong (of the held-out split, a sample), so that
changes to the training data can be judged by what they fix. ``--hide NAME`` keeps a set's mistakes
unread, so that it stays a test: only its scores are printed.

``--sentences FILE`` scores your own sentences too: one per line, each course name in square
brackets ("I'm taking [Operating Systems] this term"); a line with no brackets has no name.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from shared.config import get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training.course_ner.challenge import apart_sets, challenge_examples, unseen_examples
from training.course_ner.data import build_splits
from training.course_ner.examples import Example, marked_file
from training.course_ner.model import load_ensemble, load_title_words
from training.course_ner.train import NerTrainingConfig, entity_scores, predict_names


def score_with_mistakes(
    models: Sequence[Any], tokenizer: Any, examples: list[Example], title_words: Collection[str]
) -> tuple[dict[str, float], list[str]]:
    predicted = predict_names(models, tokenizer, [e.text for e in examples], title_words=title_words)
    gold = [e.names() for e in examples]
    mistakes = [
        f"{e.text!r}\n    expected {g}\n    found    {p}"
        for e, g, p in zip(examples, gold, predicted, strict=True)
        if sorted(g) != sorted(p)
    ]
    return entity_scores(gold, predicted), mistakes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", default=None, help="a version id (default: the served one)")
    parser.add_argument("--show", type=int, default=25, help="held-out mistakes to print")
    parser.add_argument(
        "--sentences",
        type=Path,
        default=None,
        help="a file of your own sentences, one per line, course names in [square brackets]",
    )
    parser.add_argument(
        "--hide", action="append", default=[], help="a set whose mistakes are not printed (apart-4, ...)"
    )
    args = parser.parse_args()
    store = ModelStore(get_settings().model_dir)
    version = (
        store.get(ModelName.COURSE_EXTRACTOR, args.version)
        if args.version
        else store.served_version(ModelName.COURSE_EXTRACTOR)
    )
    if version is None:
        raise SystemExit("no course-extractor version in the store: run `python -m training.course_ner`")
    tokenizer = AutoTokenizer.from_pretrained(version.path)
    models = load_ensemble(version.path)
    title_words = load_title_words(version.path)
    training = version.metadata.get("training", {})
    config = NerTrainingConfig()
    held_out = build_splits(
        training.get("seed", config.seed),
        training.get("train_size", config.train_size),
        training.get("held_out_size", config.held_out_size),
    ).held_out
    sets = [("held-out", held_out), ("challenge", challenge_examples()), ("unseen", unseen_examples())]
    sets += apart_sets()
    if args.sentences is not None:
        sets.append(("yours", marked_file(args.sentences, "yours")))
    evaluated = {
        name: score_with_mistakes(models, tokenizer, examples, title_words) for name, examples in sets
    }
    print(f"course-extractor {version.version}")
    for name, (_, mistakes) in evaluated.items():
        if name in args.hide:
            continue
        for line in mistakes[: args.show] if name == "held-out" else mistakes:
            print(f"{name}:", line)
    for name, (scores, mistakes) in evaluated.items():
        print(f"{name:<9} {scores}  ({len(mistakes)} sentences wrong)")


if __name__ == "__main__":
    main()
