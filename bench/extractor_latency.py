"""What does the echo member cost at inference? Seconds per batch, with and without it.

Loads a course-extractor version (the served one by default) as the inference worker does, on
DEVICE, and times one batch of 1, 8 and 32 texts, each a short sentence or a text at the
MAX_TEXT_CHARS limit, by the encoder members alone and, where the version has an echo member,
with it voting. Prints the seconds, their ratio, and the share of INFERENCE_TIME_LIMIT a batch
takes.

    python -m bench.extractor_latency [--version ID] [--repeats 3] [--batch-sizes 1 8 32]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from shared.config import get_settings
from shared.model_store import ModelStore
from training.cli import UsageError, command_name, positive_int, user_errors_exit
from training.course_ner.extractor import Extractor, chosen_version, load_extractor
from training.device import get_device

SENTENCE = "I'm enrolled in Operating Systems and Advanced Mathematics this term."


def long_text(chars: int) -> str:
    """Sentences with names up to ``chars`` characters, the longest text a request may send."""
    return (SENTENCE + " ") * (chars // (len(SENTENCE) + 1))


def seconds_per_batch(extractor: Extractor, texts: list[str], repeats: int) -> float:
    extractor.predict(texts[:1], batch_size=1)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        extractor.predict(texts, batch_size=len(texts))
        best = min(best, time.perf_counter() - started)
    return best


@user_errors_exit
def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", default=None, help="a version id (default: the served one)")
    parser.add_argument(
        "--repeats", type=positive_int, default=3, help="timings per cell; the fastest is shown"
    )
    parser.add_argument(
        "--batch-sizes",
        type=positive_int,
        nargs="+",
        default=[1, 8, 32],
        help="texts per batch (default: 1 8 32)",
    )
    args = parser.parse_args()
    settings = get_settings()
    store = ModelStore(settings.model_dir)
    try:
        version = chosen_version(store, args.version)
    except LookupError as error:
        raise UsageError(str(error)) from None
    extractor = load_extractor(version).to(get_device())
    encoders = replace(extractor, echo=None)
    limit = settings.inference_time_limit
    print(f"course-extractor {version.version} on {get_device()}; INFERENCE_TIME_LIMIT={limit} s")
    if extractor.echo is None:
        print("(no echo member in this version: the encoders alone; train one with --echo-member)")
    print(f"{'texts':>5} {'chars':>6} {'encoders s':>11} {'with echo s':>12} {'echo/enc':>9} {'of limit':>9}")
    for length in (len(SENTENCE), settings.max_text_chars):
        text = SENTENCE if length == len(SENTENCE) else long_text(length)
        for batch in args.batch_sizes:
            texts = [text] * batch
            alone = seconds_per_batch(encoders, texts, args.repeats)
            if extractor.echo is None:
                print(f"{batch:>5} {len(text):>6} {alone:11.3f} {'-':>12} {'-':>9} {alone / limit:9.0%}")
                continue
            voted = seconds_per_batch(extractor, texts, args.repeats)
            print(
                f"{batch:>5} {len(text):>6} {alone:11.3f} {voted:12.3f} "
                f"{voted / alone:9.1f} {voted / limit:9.0%}"
            )


if __name__ == "__main__":
    main()
