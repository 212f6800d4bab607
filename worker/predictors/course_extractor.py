"""Find course names in free text with the fine-tuned token classifier, a whole batch at once."""

from __future__ import annotations

from typing import Any

import torch

from shared.model_store import ModelVersion
from training.course_ner.extractor import load_extractor


class CourseExtractor:
    def __init__(self, version: ModelVersion, device: torch.device) -> None:
        self.version = version.version
        self.extractor = load_extractor(version).to(device)

    def predict_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [item["text"] for item in inputs]
        names = self.extractor.predict(texts, batch_size=len(texts))
        return [{"extracted_course_names": found} for found in names]


def load(version: ModelVersion, device: torch.device) -> CourseExtractor:
    return CourseExtractor(version, device)
