"""Choosing the next token from a probability distribution: temperature, top-k, top-p, per-row seeds."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None

    @classmethod
    def from_input(cls, item: dict[str, Any]) -> SamplingParams:
        return cls(
            temperature=item.get("temperature") or 1.0,
            top_k=item.get("top_k"),
            top_p=item.get("top_p"),
            seed=item.get("seed"),
        )

    def generator(self) -> torch.Generator:
        """A generator of its own per request, so batch mates never change a seeded result."""
        seed = self.seed if self.seed is not None else secrets.randbits(63)
        return torch.Generator().manual_seed(seed)


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """One token id from a 1-D tensor of logits."""
    scores = logits.detach().float().cpu() / params.temperature
    if params.top_k is not None and params.top_k < scores.numel():
        # exactly k: those tied with the k-th past them go too, so top_k=1 is greedy on the bigram's
        # whole-number counts, where ties are common
        kept, ids = torch.topk(scores, params.top_k)
        scores = torch.full_like(scores, float("-inf")).scatter(0, ids, kept)
    probs = torch.softmax(scores, dim=-1)
    if params.top_p is not None and params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < params.top_p
        keep[0] = True
        filtered = torch.zeros_like(probs)
        filtered[order[keep]] = sorted_probs[keep]
        probs = filtered / filtered.sum()
    return int(torch.multinomial(probs, 1, generator=generator).item())
