"""``python -m training.course_ner.evaluate``: score the served extractor and show its mistakes.

Scores the held-out split (titles and sentence shapes never trained on), the hand-written
challenge sentences and the unseen sentences (written apart from the project, with titles that never
train), then prints every sentence of the last two it got wrong and a sample of the held-out ones,
so that changes to the training data can be judged by what they fix.
"""

from __future__ import annotations

import argparse
from typing import Any

from transformers import AutoModelForTokenClassification, AutoTokenizer

from shared.config import get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training.course_ner.challenge import challenge_examples, unseen_examples
from training.course_ner.data import Example, build_splits
from training.course_ner.train import NerTrainingConfig, entity_scores, predict_names


def score_with_mistakes(
    model: Any, tokenizer: Any, examples: list[Example]
) -> tuple[dict[str, float], list[str]]:
    predicted = predict_names(model, tokenizer, [e.text for e in examples])
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
    model = AutoModelForTokenClassification.from_pretrained(version.path)
    training = version.metadata.get("training", {})
    config = NerTrainingConfig()
    held_out = build_splits(
        training.get("seed", config.seed),
        training.get("train_size", config.train_size),
        training.get("held_out_size", config.held_out_size),
    ).held_out
    held_out_scores, held_out_mistakes = score_with_mistakes(model, tokenizer, held_out)
    challenge_scores, challenge_mistakes = score_with_mistakes(model, tokenizer, challenge_examples())
    unseen_scores, unseen_mistakes = score_with_mistakes(model, tokenizer, unseen_examples())
    print(f"course-extractor {version.version}")
    for line in held_out_mistakes[: args.show]:
        print("held-out:", line)
    for line in challenge_mistakes:
        print("challenge:", line)
    for line in unseen_mistakes:
        print("unseen:", line)
    print(f"held-out  {held_out_scores}  ({len(held_out_mistakes)} sentences wrong)")
    print(f"challenge {challenge_scores}  ({len(challenge_mistakes)} sentences wrong)")
    print(f"unseen    {unseen_scores}  ({len(unseen_mistakes)} sentences wrong)")


if __name__ == "__main__":
    main()
