"""Find course names in free text with the fine-tuned token classifier, a whole batch at once."""

from __future__ import annotations

from typing import Any

import torch

from shared.model_store import ModelVersion
from training.course_ner.extractor import load_extractor

# How many times the encoders' time the extractor takes per character of text with its echo member,
# on a CPU (`bench/extractor_latency.py`, 2 cores): 8 texts of 4,970 chars took 4.3 s by the encoders
# alone and 40.7 s with the member (2026-11-30); one such text 1.9 s and 18.2 s on a slower CPU
# (2026-12-04). Not measured on a GPU, where it is taken as 1.
ECHO_MEMBER_TEXT_COST_ON_CPU = 10.0


class CourseExtractor:
    def __init__(self, version: ModelVersion, device: torch.device) -> None:
        self.version = version.version
        self.extractor = load_extractor(version).to(device)
        slow = self.extractor.echo is not None and device.type == "cpu"
        self.text_cost = ECHO_MEMBER_TEXT_COST_ON_CPU if slow else 1.0

    def predict_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [item["text"] for item in inputs]
        names = self.extractor.predict(texts, batch_size=len(texts))
        return [{"extracted_course_names": found} for found in names]


def load(version: ModelVersion, device: torch.device) -> CourseExtractor:
    return CourseExtractor(version, device)
