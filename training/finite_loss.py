"""A training loss that became NaN or infinite, or trained weights that hold such values, end the
run before anything is published: the weights are lost, and a published version would be served at
once."""

from __future__ import annotations

import math

import torch

from training.cli import UsageError


class NonFiniteLossError(UsageError):
    """The training loss became NaN or infinite: the weights are lost, so nothing is published."""


def require_finite(loss: float, step: int, learning_rate: float) -> float:
    """``loss``, or NonFiniteLossError naming the step and the learning rate."""
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"the training loss became {loss} at step {step}; no model version was published"
            f" (learning_rate {learning_rate:g}: a lower one usually avoids this)"
        )
    return loss


def require_finite_weights(*models: torch.nn.Module) -> None:
    """NonFiniteLossError where a trained weight is NaN or infinite. A non-finite gradient in the
    last step leaves such weights behind a finite loss (clipping scales an infinite norm to NaN),
    and no later step's loss shows it: the version would load and fail every request."""
    for model in models:
        for name, parameter in model.named_parameters():
            if not bool(torch.isfinite(parameter).all()):
                raise NonFiniteLossError(
                    f"the trained weight {name} holds NaN or infinite values; no model version was published"
                    " (a lower learning_rate usually avoids this)"
                )
