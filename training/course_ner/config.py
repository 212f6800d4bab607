"""The extractor's training settings: one place for their defaults, read by the data and the loop."""

from __future__ import annotations

import math
from dataclasses import dataclass

from training.cli import UsageError, check_seed

PREVIEW_EPOCHS = 2
# Seconds of training steps a preview that `make run` serves first may take (`preview_config`): the
# issue asks for a first extractor within a few minutes on 2 CPU cores. All 596 steps fit on CPUs
# that run bfloat16 fast (3.6 minutes on an AMD EPYC with AVX512-BF16); in float32 on a 2-core AMD
# EPYC with no AVX512 they took 7.6 minutes (0.74 s a step), and 322 steps fit (README).
PREVIEW_STEP_SECONDS = 240
# However slow the machine, a preview trains at least this many steps (EXPERIMENTS.md: the scores by steps).
PREVIEW_MIN_STEPS = 150


# Bounds on the sizes a run may ask for: 10^8 sentences were built in memory before any step.
AT_MOST = {
    "train_size": 500_000,
    "held_out_size": 100_000,
    "written_refills": 100,
    "ensemble_size": 8,
    "epochs": 100,
    "echo_epochs": 20,
    "batch_size": 1024,
}


@dataclass(frozen=True)
class NerTrainingConfig:
    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_share: float = 0.1
    train_size: int = 5000  # template sentences; the written sentences come on top (`written.py`)
    held_out_size: int = 1500
    seed: int = 0
    # Letting the word embeddings train costs 2% more time per step (with the fused optimizer) and
    # scored about 0.02 F1 higher on sentences written apart from the templates (5 seeds each).
    train_word_embeddings: bool = True
    # bfloat16 autocast where the hardware runs it natively: 1.6x faster steps on an AVX512-BF16 CPU.
    mixed_precision: bool = True
    # Of the tokens outside names, the share hidden behind [MASK] in each batch: the words around a
    # name then decide less and the name's own words more ("Organic Chemistry is where ...").
    context_mask_share: float = 0.15
    # Models trained alike but for their head initialisation, batch order and masking, whose label
    # log-probabilities are averaged: one run to the next moves F1 on sentences written apart from
    # the templates by up to 0.04 either way, and two members took out much of that (README).
    ensemble_size: int = 2
    # Each sentence with names written by hand for training (`written.py`) trains this many times,
    # each with other training titles in place of its names.
    written_refills: int = 2
    # Of the training names, the share offered to `informal.py` to be shortened as a student might
    # ("Intro to Sociology", "Calc 2"); the catalog writes every title in full. Most titles have
    # nothing to shorten, so about 3.4% of the names come out shortened.
    informal_share: float = 0.25
    # Of the template sentences with names: names drawn only from the catalog's titles rather than
    # from all training titles (about half are generated ones, shorter and plainer than the
    # catalog's, whose unpublished half is what the extractor is judged on). 0.3 against 0: +0.020
    # on the unseen sentences and +0.014 on catalog-test, -0.018 on apart-new (seeds 0 and 1).
    catalog_share: float = 0.3
    # An echo member (`echo_member.py`): the store's LLM base fine-tuned as one more member, its vote
    # weighted echo_weight against the encoder members' mean. 0.5 scored best or tied on the
    # development sets with both seeds' members (2026-12-04; 0.4 to 0.6 close behind); 0.75, chosen
    # on 2026-11-29 for the member that read a text's first 128 tokens, lost or tied on every one.
    # Off by default: on 2 CPU cores an epoch of it takes about 30 minutes.
    echo_member: bool = False
    echo_weight: float = 0.5
    echo_epochs: int = 1
    echo_learning_rate: float = 1e-4
    # A quick first version, served while the full one trains (`ensure_preview`): see `preview_config()`.
    preview: bool = False
    # At most this many steps for each member (None: every step of its epochs), and, with
    # step_seconds, at most as many as a few timed steps say fit in that many seconds.
    max_steps: int | None = None
    step_seconds: float | None = None
    min_steps: int = PREVIEW_MIN_STEPS

    @classmethod
    def preview_config(cls, *, within_seconds: bool = False) -> NerTrainingConfig:
        """One model and PREVIEW_EPOCHS epochs: a quarter of the full training's steps, so that a
        first `make run` extracts within minutes, with lower scores, until the full version is in.
        Twice the learning rate scored 0.010 higher on the sentences written apart (seeds 0-2).
        ``within_seconds``: only as many steps as fit in PREVIEW_STEP_SECONDS on this machine (the
        same on most; the test suite's store leaves it off, so that its preview is the same anywhere)."""
        return cls(
            ensemble_size=1,
            epochs=PREVIEW_EPOCHS,
            learning_rate=2 * cls.learning_rate,
            preview=True,
            step_seconds=PREVIEW_STEP_SECONDS if within_seconds else None,
        )

    def __post_init__(self) -> None:
        """Settings out of range are the user's to change: said before any data is built, not a
        traceback from the optimizer, nor a model trained on nonsense."""
        at_least_one = {
            "ensemble_size": self.ensemble_size,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "train_size": self.train_size,
            "held_out_size": self.held_out_size,
            "echo_epochs": self.echo_epochs,
            "max_steps": 1 if self.max_steps is None else self.max_steps,
        }
        for name, value in at_least_one.items():
            if value < 1:
                raise UsageError(f"{name} must be at least 1, not {value}")
        for name, most in AT_MOST.items():  # sentences are built in memory before training starts
            if getattr(self, name) > most:
                raise UsageError(f"{name} must be at most {most:,}, not {getattr(self, name):,}")
        shares = {
            "context_mask_share": self.context_mask_share,
            "informal_share": self.informal_share,
            "catalog_share": self.catalog_share,
            "warmup_share": self.warmup_share,
            "echo_weight": self.echo_weight,
        }
        for name, share in shares.items():
            if not 0 <= share <= 1:
                raise UsageError(f"{name} must be between 0 and 1, not {share}")
        check_seed(self.seed)
        if self.written_refills < 0:
            raise UsageError(f"written_refills must be 0 or more, not {self.written_refills}")
        for name, rate in (
            ("learning_rate", self.learning_rate),
            ("echo_learning_rate", self.echo_learning_rate),
        ):
            if not 0 < rate < math.inf:
                raise UsageError(f"{name} must be above 0 and finite, not {rate}")
