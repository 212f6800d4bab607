"""Predictors: a loaded model version that answers a batch of inputs in one forward pass.

Every predictor module exposes ``load(version: ModelVersion, device: torch.device) -> Predictor``.
The worker hands a predictor a list of validated job inputs (plain dicts, the JSON the API
accepted) and gets back one JSON-able result dict per input, in the same order.
"""

from __future__ import annotations

from typing import Any, Protocol


class Predictor(Protocol):
    version: str

    def predict_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]: ...
