"""``python -m training.course_ner``: train the course-name extractor and publish a version."""

from __future__ import annotations

import argparse
import logging

from shared.config import get_settings
from shared.model_store import ModelStore
from training.cli import command_name, positive_int, user_errors_exit
from training.course_ner.model import base_source
from training.course_ner.train import NerTrainingConfig, train


@user_errors_exit
def main() -> None:
    parser = argparse.ArgumentParser(prog=command_name(__spec__), description=__doc__)
    parser.add_argument("--epochs", type=positive_int, default=NerTrainingConfig.epochs)
    parser.add_argument("--seed", type=int, default=NerTrainingConfig.seed)
    parser.add_argument("--train-size", type=positive_int, default=NerTrainingConfig.train_size)
    parser.add_argument("--learning-rate", type=float, default=NerTrainingConfig.learning_rate)
    parser.add_argument(
        "--fp32", action="store_true", help="no bfloat16 autocast, even where the hardware has it"
    )
    parser.add_argument(
        "--context-mask",
        type=float,
        default=NerTrainingConfig.context_mask_share,
        help="share of the tokens outside names replaced by [MASK] in training (default %(default)s)",
    )
    parser.add_argument(
        "--ensemble-size",
        type=positive_int,
        default=NerTrainingConfig.ensemble_size,
        help="models trained and averaged (default %(default)s; 1 trains in half the time)",
    )
    parser.add_argument(
        "--written-refills",
        type=int,
        default=NerTrainingConfig.written_refills,
        help="times each hand-written sentence with names trains, with other titles (default %(default)s)",
    )
    parser.add_argument(
        "--informal-share",
        type=float,
        default=NerTrainingConfig.informal_share,
        help="share of the training names given shortened, 'Intro to Sociology' (default %(default)s)",
    )
    parser.add_argument(
        "--catalog-share",
        type=float,
        default=NerTrainingConfig.catalog_share,
        help="share of the template sentences whose names are all catalog titles (default %(default)s)",
    )
    parser.add_argument(
        "--echo-member",
        action="store_true",
        help="also fine-tune the LLM base as a member (higher F1; 14 to 45 more minutes on 2 CPU cores)",
    )
    parser.add_argument("--base", default=None, help="an EXTRACTOR_BASE value or a local directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = NerTrainingConfig(
        epochs=args.epochs,
        seed=args.seed,
        train_size=args.train_size,
        learning_rate=args.learning_rate,
        mixed_precision=not args.fp32,
        context_mask_share=args.context_mask,
        ensemble_size=args.ensemble_size,
        written_refills=args.written_refills,
        informal_share=args.informal_share,
        catalog_share=args.catalog_share,
        echo_member=args.echo_member,
    )
    base_source(args.base)  # an unknown --base fails now, not after the sentences are built
    version = train(ModelStore(get_settings().model_dir), base=args.base, config=config)
    print(f"course-extractor {version.version}: {version.metadata['metrics']}")


if __name__ == "__main__":
    main()
