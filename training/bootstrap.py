"""Make sure the store has a version of every model the inference workers serve.

``python -m training.bootstrap`` (run by ``make run`` before the workers start) imports the LLM
base and trains the small models the first time; later runs find them and return at once.
``--preview-first`` (the launcher's background run) serves a quick preview of the extractor first;
``--preview-only`` (the test suite's store) trains the preview alone, never the full version.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from functools import partial

from shared.config import get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from training.cli import USER_ERRORS, command_name


def _ensurers() -> dict[ModelName, Callable[[ModelStore], ModelVersion]]:
    from training import bigram, course_ner, llm_base, rnn

    return {
        ModelName.BIGRAM: bigram.ensure_trained,
        ModelName.LLM: llm_base.ensure_imported,
        ModelName.RNN: rnn.ensure_trained,
        ModelName.COURSE_EXTRACTOR: course_ner.ensure_trained,
    }


def _preview_ensurers(within_seconds: bool) -> dict[ModelName, Callable[[ModelStore], ModelVersion]]:
    """Models with a quick preview version to serve while their full version trains;
    ``within_seconds``: one that takes no more than a few minutes here, however slow the machine."""
    from training import course_ner

    return {ModelName.COURSE_EXTRACTOR: partial(course_ner.ensure_preview, within_seconds=within_seconds)}


def ensure_models(
    store: ModelStore, names: list[ModelName], preview_first: bool = False, preview_only: bool = False
) -> dict[ModelName, ModelVersion]:
    """A served version of each model. With ``preview_first``: previews first, then the models
    without one, then the full versions of the previewed, so that each is served soonest. With
    ``preview_only``: a model with a preview gets no full version unless it has one already."""
    ensurers = _ensurers()
    # the test suite's store (preview_only) wants the same preview on every machine
    previewers = _preview_ensurers(within_seconds=not preview_only) if preview_first or preview_only else {}
    previewed = {name: previewers[name](store) for name in names if name in previewers}
    others = {name: ensurers[name](store) for name in names if name not in previewed}
    if preview_only:
        return {**previewed, **others}
    return {**others, **{name: ensurers[name](store) for name in previewed}}


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog=command_name(__spec__), description=__doc__)
    known = [m.value for m in ModelName]
    parser.add_argument("models", nargs="*", help=f"any of {known} (default: PRELOAD_MODELS)")
    parser.add_argument(
        "--preview-first",
        action="store_true",
        help="in an empty store, publish a quick preview of the extractor first (one model, fewer "
        "epochs: minutes), served until the full version replaces it",
    )
    parser.add_argument(
        "--preview-only",
        action="store_true",
        help="in an empty store, publish only that preview, never the full version (the test "
        "suite's store: a quarter of the full training's steps)",
    )
    args = parser.parse_args(argv)
    names = args.models or settings.preload_models
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown models {unknown}; known: {known}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    store = ModelStore(settings.model_dir)
    try:
        versions = ensure_models(
            store, [ModelName(name) for name in names], args.preview_first, args.preview_only
        )
    except USER_ERRORS as error:  # missing data, a CORPUS_FILE too short or absent, a loss gone NaN
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, version in versions.items():
        print(f"{name.value:>16}: {version.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
