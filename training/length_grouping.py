"""Batches of examples of similar length, in random order: dynamic padding then pads little."""

from __future__ import annotations

import torch


def length_grouped_batches(
    lengths: list[int], batch_size: int, seed: int, window: int = 50
) -> list[list[int]]:
    """Batches of similar lengths, so dynamic padding pads little; the order stays random.

    Indices are shuffled, cut into windows of ``window`` batches, sorted by length inside each
    window and cut into batches; the batches are shuffled again.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(lengths), generator=generator).tolist()
    batches: list[list[int]] = []
    span = batch_size * window
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]
