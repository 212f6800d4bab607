"""The optimizer and one optimization step of a token classifier, shared by the encoder members
and the echo member."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from training.device import bf16_autocast


def optimizer_and_schedule(
    parameters: list[torch.nn.Parameter], learning_rate: float, total_steps: int, warmup_share: float
) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW (weight decay 0.01) and a linear schedule that warms up over ``warmup_share`` of the steps."""
    # The fused kernel also runs on CPUs: there the plain one spends longer on each step than the model.
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=0.01, fused=True)
    return optimizer, get_linear_schedule_with_warmup(optimizer, int(warmup_share * total_steps), total_steps)


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
    with bf16_autocast(device, mixed_precision):
        loss = model(**{name: tensor.to(device) for name, tensor in inputs.items()}).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()
    return loss.item()
