"""Loss-curve plots written next to a trained model version."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def save_loss_plot(
    losses: list[float], path: Path, *, title: str, eval_losses: list[tuple[int, float]] | None = None
) -> None:
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(range(1, len(losses) + 1), losses, label="train loss", linewidth=1)
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
