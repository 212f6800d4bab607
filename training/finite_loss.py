"""A training loss that became NaN or infinite ends the run before anything is published: the
weights it leaves are lost, and a published version would be served at once."""

from __future__ import annotations

import math

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
