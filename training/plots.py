"""Loss-curve plots written next to a trained model version."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def save_loss_plot(
    losses: list[float] | list[list[float]],
    path: Path,
    *,
    title: str,
    eval_losses: list[tuple[int, float]] | None = None,
) -> None:
    """One train-loss line, or one per run given a list of them (an ensemble's members)."""
    runs = losses if losses and isinstance(losses[0], list) else [losses]
    figure, axes = plt.subplots(figsize=(7, 4))
    for index, run in enumerate(runs):
        label = "train loss" if len(runs) == 1 else f"train loss, member {index}"
        # a marker on a short run: a line of one point draws nothing
        axes.plot(range(1, len(run) + 1), run, label=label, linewidth=1, marker="o" if len(run) < 3 else None)
    if eval_losses:
        steps, values = zip(*eval_losses, strict=True)
        axes.plot(steps, values, "o-", label="eval loss")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
