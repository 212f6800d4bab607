"""How many training steps fit in a number of seconds on this machine, from a few timed ones."""

from __future__ import annotations

import time
from collections.abc import Iterable

import torch
from transformers import PreTrainedModel

from training.device import bf16_autocast

TIMED_BATCHES = 4  # after one more that warms up; their mean stands for every batch


def seconds_per_step(
    model: PreTrainedModel,
    batches: Iterable[dict[str, torch.Tensor]],
    device: torch.device,
    mixed_precision: bool,
) -> float:
    """The mean time of a forward and backward pass over the batches after the first (which warms
    up). The weights are left as they were, and so is the random state (dropout draws from it)."""
    seconds = []
    model.train()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for batch in batches:
            start = time.perf_counter()
            with bf16_autocast(device, mixed_precision):
                loss = model(**{name: tensor.to(device) for name, tensor in batch.items()}).loss
            loss.backward()
            model.zero_grad(set_to_none=True)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds.append(time.perf_counter() - start)
    if len(seconds) < 2:
        raise ValueError("at least two batches are needed: the first only warms up")
    return sum(seconds[1:]) / (len(seconds) - 1)


def steps_within(seconds: float, step_seconds: float, wanted: int, least: int) -> int:
    """Of ``wanted`` steps, as many as fit in ``seconds`` at ``step_seconds`` each, but ``least``."""
    return max(min(wanted, int(seconds / step_seconds)), min(least, wanted))
