"""Predictors: a loaded model version that answers a batch of inputs in one forward pass.

Every predictor module exposes ``load(version: ModelVersion, device: torch.device) -> Predictor``.
The worker hands a predictor a list of validated job inputs (plain dicts, the JSON the API
accepted) and gets back one JSON-able result dict per input, in the same order.

A predictor may also say how costly its input text is (``text_cost``, see `text_cost_of`).
"""

from __future__ import annotations

from typing import Any, Protocol


class Predictor(Protocol):
    version: str

    def predict_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


def text_cost_of(predictor: Predictor | None) -> float:
    """How many times the extractor's encoders' time a predictor takes per character of input
    text: the batcher divides MAX_BATCH_CHARS by it. 1 where a predictor says nothing (or none is
    loaded yet)."""
    return float(getattr(predictor, "text_cost", 1.0))
