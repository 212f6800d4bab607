"""One optimization step of a token classifier, shared by the encoder members and the echo member."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedModel

from training.device import training_autocast


def optimization_step(
    model: PreTrainedModel,
    inputs: dict[str, torch.Tensor],
    parameters: list[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    schedule: Any,
    device: torch.device,
    mixed_precision: bool,
) -> float:
    """One step on a batch with its labels: loss, clipped gradients, optimizer and schedule; the loss."""
    with training_autocast(device, mixed_precision):
        loss = model(**{name: tensor.to(device) for name, tensor in inputs.items()}).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()
    return loss.item()
