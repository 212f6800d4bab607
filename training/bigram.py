"""Word bigram language model: counts of which word follows which, from the text corpus.

``python -m training.bigram [--corpus FILE]`` counts, measures held-out perplexity (bigram
interpolated with an add-one unigram) and publishes a version into the model store.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections import Counter, defaultdict
from pathlib import Path

from tqdm import tqdm

from shared.config import get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from training.cli import UsageError, command_name, user_errors_exit
from training.text_corpus import HELD_OUT_FRACTION, Corpus, load_corpus, served_for_corpus_setting

COUNTS_FILE = "bigram_counts.json"
BIGRAM_WEIGHT = 0.9  # interpolation weight of the bigram estimate against the unigram one


def count_bigrams(words: list[str]) -> dict[str, Counter[str]]:
    following: dict[str, Counter[str]] = defaultdict(Counter)
    for current, nxt in tqdm(itertools.pairwise(words), total=len(words) - 1, desc="counting"):
        following[current][nxt] += 1
    return following


def perplexity(following: dict[str, Counter[str]], train: list[str], held_out: list[str]) -> float:
    unigram = Counter(train)
    total, vocab = len(train), len(unigram) + 1
    row_totals = {word: sum(counts.values()) for word, counts in following.items()}
    log_prob = 0.0
    for current, nxt in itertools.pairwise(held_out):
        p_uni = (unigram.get(nxt, 0) + 1) / (total + vocab)
        row = following.get(current)
        p_bi = row[nxt] / row_totals[current] if row and nxt in row else 0.0
        log_prob += math.log(BIGRAM_WEIGHT * p_bi + (1 - BIGRAM_WEIGHT) * p_uni if row else p_uni)
    return math.exp(-log_prob / max(1, len(held_out) - 1))


# Fewer training words than this count nothing a generator could use; said before publishing a
# version that would replace a good one.
MIN_TRAIN_WORDS = 100


def train(store: ModelStore, *, corpus_path: Path | None = None) -> ModelVersion:
    corpus: Corpus = load_corpus(corpus_path)
    if len(corpus.train) < MIN_TRAIN_WORDS:
        raise UsageError(
            f"the corpus is too short: {len(corpus.train)} training words (its first nine tenths); the"
            f" bigram model needs at least {MIN_TRAIN_WORDS}"
        )
    following = count_bigrams(corpus.train)
    held_out_perplexity = perplexity(following, corpus.train, corpus.held_out)
    metadata = {
        "base": "none",
        "kind": "counts",
        "corpus": corpus.source,
        "data_sha256": corpus.sha256,
        "training": {
            "train_words": len(corpus.train),
            "held_out_words": len(corpus.held_out),
            "held_out_fraction": HELD_OUT_FRACTION,
            "perplexity_bigram_weight": BIGRAM_WEIGHT,  # against the unigram estimate, in the perplexity
        },
        "metrics": {"held_out_perplexity": round(held_out_perplexity, 2)},
    }
    with store.new_version(ModelName.BIGRAM, metadata) as version:
        table = {word: dict(counts) for word, counts in following.items()}
        (version.path / COUNTS_FILE).write_text(json.dumps(table))
    return store.published(version)


def ensure_trained(store: ModelStore) -> ModelVersion:
    return served_for_corpus_setting(store, ModelName.BIGRAM) or train(store)


@user_errors_exit
def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, help="a UTF-8 text file (default: the corpus in DATA_DIR)")
    args = parser.parse_args()
    version = train(ModelStore(get_settings().model_dir), corpus_path=args.corpus)
    print(f"bigram {version.version}: {version.metadata['metrics']}")


if __name__ == "__main__":
    main()
