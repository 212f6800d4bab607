"""``python -m training.course_ner.evaluate``: score the served extractor and show its mistakes.

Scores the held-out split (titles and sentence shapes never trained on), the hand-written
challenge sentences, the unseen sentences (written apart from the project, with titles that never
train), the five sets of `apart_sentences/` (written by helpers that saw nothing of the project),
"apart-new" (those of their sentences whose titles no other file holds), and catalog-dev and
catalog-test (`apart_catalog_sentences/`: such helpers' sentences with catalog titles that never
train), then prints every sentence it got wrong (of the held-out split, a sample), so that changes
to the training data can be judged by what they fix. The mistakes of the test sets (apart sets 4
and 5 and catalog-test, whose mistakes nobody has read, and apart-new, which holds some of them)
are never printed unless ``--reveal NAME`` asks, so that they stay tests; ``--hide NAME`` keeps
another set's mistakes unread too.

``--sentences FILE`` scores your own sentences too: one per line, each course name in square
brackets ("I'm taking [Operating Systems] this term"); a line with no brackets has no name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.config import get_settings
from shared.model_store import ModelStore
from training.cli import UsageError, command_name, non_negative_int, user_errors_exit
from training.course_ner.challenge import (
    apart_catalog_sets,
    apart_examples_with_new_titles,
    apart_sets,
    challenge_examples,
    unseen_examples,
)
from training.course_ner.config import NerTrainingConfig
from training.course_ner.data import held_out_split
from training.course_ner.examples import marked_file
from training.course_ner.extractor import chosen_version, load_extractor
from training.course_ner.scoring import PredictedOnce, score_with_mistakes
from training.course_ner.train import NOT_COMPARABLE
from training.device import get_device

# Sets only ever scored: once their mistakes are read, they guide changes and stop being tests.
# "apart-new" holds sentences of sets 4 and 5 too.
TEST_SETS = ("apart-4", "apart-5", "apart-new", "catalog-test")


@user_errors_exit
def main() -> None:
    parser = argparse.ArgumentParser(prog=command_name(__spec__), description=__doc__)
    parser.add_argument("--version", default=None, help="a version id (default: the served one)")
    parser.add_argument("--show", type=non_negative_int, default=25, help="held-out mistakes to print")
    parser.add_argument(
        "--sentences",
        type=Path,
        default=None,
        help="a file of your own sentences, one per line, course names in [square brackets]",
    )
    parser.add_argument(
        "--hide", action="append", default=[], help="a set whose mistakes are not printed (apart-1, ...)"
    )
    parser.add_argument(
        "--reveal",
        action="append",
        default=[],
        choices=TEST_SETS,
        help=f"a test set whose mistakes are printed after all (of {', '.join(TEST_SETS)})",
    )
    args = parser.parse_args()
    store = ModelStore(get_settings().model_dir)
    try:
        version = chosen_version(store, args.version)
    except LookupError as error:
        raise UsageError(str(error)) from None
    extractor = load_extractor(version).to(get_device())
    training = version.metadata.get("training", {})
    config = NerTrainingConfig()
    held_out = held_out_split(
        training.get("seed", config.seed), training.get("held_out_size", config.held_out_size)
    )
    sets = [("held-out", held_out), ("challenge", challenge_examples()), ("unseen", unseen_examples())]
    sets += [*apart_sets(), ("apart-new", apart_examples_with_new_titles()), *apart_catalog_sets()]
    if args.sentences is not None:
        sets.append(("yours", marked_file(args.sentences, "yours")))
    if unknown := set(args.hide) - {name for name, _ in sets}:
        raise UsageError(f"--hide names no set: {sorted(unknown)}; the sets: {[name for name, _ in sets]}")
    predictor = PredictedOnce(extractor)
    evaluated = {name: score_with_mistakes(predictor, examples) for name, examples in sets}
    hidden = set(args.hide) | (set(TEST_SETS) - set(args.reveal))
    print(f"course-extractor {version.version}")
    if version.metadata.get("scores_comparable") is False:
        print(f"warning: {NOT_COMPARABLE}")
    for name, (_, mistakes) in evaluated.items():
        if name in hidden:
            continue
        for line in mistakes[: args.show] if name == "held-out" else mistakes:
            print(f"{name}:", line)
    width = max(len(name) for name in evaluated)
    for name, (scores, mistakes) in evaluated.items():
        print(f"{name:<{width}} {scores}  ({len(mistakes)} sentences wrong)")


if __name__ == "__main__":
    main()
