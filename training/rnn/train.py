"""Train the word LSTM on the corpus with a hand-written loop; report held-out perplexity."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from shared.config import get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore, ModelVersion
from training.cli import UsageError, check_seed, positive_int, user_errors_exit
from training.device import get_device
from training.finite_loss import require_finite, require_finite_weights
from training.plots import save_loss_plot
from training.rnn.model import LstmConfig, Vocabulary, WordLstm, save
from training.text_corpus import HELD_OUT_FRACTION, load_corpus, served_for_corpus_setting


@dataclass(frozen=True)
class RnnTrainingConfig:
    epochs: int = 3
    batch_size: int = 64
    sequence_length: int = 32
    learning_rate: float = 3e-3
    vocab_size: int = 10_000
    embedding_dim: int = 128
    hidden_dim: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        check_seed(self.seed)


PERPLEXITY_WINDOW = 64  # words the held-out perplexity reads at a time


def _windows(ids: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    count = (len(ids) - 1) // length
    inputs = ids[: count * length].view(count, length)
    targets = ids[1 : count * length + 1].view(count, length)
    return inputs, targets


def _require_enough_words(train_words: int, held_out_words: int, config: RnnTrainingConfig) -> None:
    """A corpus too short for one training window or one held-out window is the user's to change:
    said before training, not a ZeroDivisionError after it."""
    if train_words <= config.sequence_length or held_out_words <= PERPLEXITY_WINDOW:
        raise UsageError(
            f"the corpus is too short: {train_words} training words and {held_out_words} held out (its last"
            f" tenth); the LSTM needs more than {config.sequence_length} and {PERPLEXITY_WINDOW}: about"
            f" {10 * (PERPLEXITY_WINDOW + 1)} words in all"
        )


@torch.no_grad()
def perplexity(
    model: WordLstm, ids: torch.Tensor, length: int = PERPLEXITY_WINDOW, windows_per_pass: int = 32
) -> float:
    """exp of the mean token loss, a few windows at a time: the logits of a whole held-out part
    at once (windows x length x vocabulary) would take gigabytes for a large corpus."""
    model.eval()
    inputs, targets = _windows(ids, length)
    total = 0.0
    for start in range(0, len(inputs), windows_per_pass):
        logits, _ = model(inputs[start : start + windows_per_pass])
        chunk = targets[start : start + windows_per_pass]
        flat = logits.reshape(-1, logits.shape[-1])
        total += float(nn.functional.cross_entropy(flat, chunk.reshape(-1), reduction="sum"))
    return math.exp(total / targets.numel())


def train(
    store: ModelStore,
    *,
    corpus_path: Path | None = None,
    config: RnnTrainingConfig | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> ModelVersion:
    config = config or RnnTrainingConfig()
    torch.manual_seed(config.seed)
    corpus = load_corpus(corpus_path)
    vocabulary = Vocabulary.build(corpus.train, config.vocab_size)
    device = get_device()
    train_ids = torch.tensor(vocabulary.ids(corpus.train), device=device)
    held_out_ids = torch.tensor(vocabulary.ids(corpus.held_out), device=device)
    _require_enough_words(len(train_ids), len(held_out_ids), config)
    model = WordLstm(
        LstmConfig(len(vocabulary), embedding_dim=config.embedding_dim, hidden_dim=config.hidden_dim)
    ).to(device)
    inputs, targets = _windows(train_ids, config.sequence_length)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, fused=True)
    steps_per_epoch = math.ceil(len(inputs) / config.batch_size)
    total = config.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=total)
    generator = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    with tqdm(total=total, desc="rnn") as bar:
        for _epoch in range(config.epochs):
            model.train()
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                logits, _ = model(inputs[batch])
                loss = nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), targets[batch].reshape(-1)
                )
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                losses.append(require_finite(loss.item(), len(losses) + 1, config.learning_rate))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
                if progress:
                    progress({"step": len(losses), "total_steps": total, "loss": losses[-1]})
    require_finite_weights(model)
    held_out_perplexity = perplexity(model, held_out_ids)
    metadata = {
        "base": "none",
        "kind": "trained",
        "corpus": corpus.source,
        "data_sha256": corpus.sha256,
        "training": {**asdict(config), "held_out_fraction": HELD_OUT_FRACTION},
        "metrics": {
            "held_out_perplexity": round(held_out_perplexity, 2),
            "final_train_loss": round(losses[-1], 4),
            "held_out_unknown_share": round(float((held_out_ids == vocabulary.unknown_id).float().mean()), 4),
        },
    }
    with store.new_version(ModelName.RNN, metadata) as version:
        save(model, vocabulary, version.path)
        save_loss_plot(losses, version.path / "loss_curve.png", title="word LSTM: training loss")
    return store.published(version)


def ensure_trained(store: ModelStore) -> ModelVersion:
    return served_for_corpus_setting(store, ModelName.RNN) or train(store)


@user_errors_exit
def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m training.rnn",
        description="Train the word-level LSTM generator and publish a version.",
    )
    parser.add_argument("--corpus", type=Path, help="a UTF-8 text file (default: the corpus in DATA_DIR)")
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=RnnTrainingConfig.epochs,
        help=f"passes over the corpus's training part (default: {RnnTrainingConfig.epochs})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=RnnTrainingConfig.seed,
        help=f"the same seed trains the same model on the same CPU (default: {RnnTrainingConfig.seed})",
    )
    args = parser.parse_args()
    config = RnnTrainingConfig(epochs=args.epochs, seed=args.seed)
    version = train(ModelStore(get_settings().model_dir), corpus_path=args.corpus, config=config)
    print(f"rnn {version.version}: {version.metadata['metrics']}")
