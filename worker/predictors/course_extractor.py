"""Find course names in free text with the fine-tuned token classifier, a whole batch at once."""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoTokenizer

from shared.model_store import ModelVersion
from training.course_ner.echo_member import echo_weight_of, load_echo_member
from training.course_ner.model import load_ensemble, load_title_words
from training.course_ner.train import predict_names


class CourseExtractor:
    def __init__(self, version: ModelVersion, device: torch.device) -> None:
        self.version = version.version
        self.tokenizer = AutoTokenizer.from_pretrained(version.path)
        self.models = [member.to(device).eval() for member in load_ensemble(version.path)]
        self.title_words = load_title_words(version.path)
        echo = load_echo_member(version.path)
        self.echo = (echo[0].to(device).eval(), echo[1]) if echo else None
        self.echo_weight = echo_weight_of(version.metadata)

    def predict_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [item["text"] for item in inputs]
        names = predict_names(
            self.models,
            self.tokenizer,
            texts,
            batch_size=len(texts),
            title_words=self.title_words,
            echo=self.echo,
            echo_weight=self.echo_weight,
        )
        return [{"extracted_course_names": found} for found in names]


def load(version: ModelVersion, device: torch.device) -> CourseExtractor:
    return CourseExtractor(version, device)
