"""The one registry of every model the platform serves.

Requests may only name models listed here; nothing else is ever loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ModelName(StrEnum):
    COURSE_EXTRACTOR = "course-extractor"
    BIGRAM = "bigram"
    RNN = "rnn"
    LLM = "llm"


class ModelTask(StrEnum):
    TOKEN_CLASSIFICATION = "token-classification"
    TEXT_GENERATION = "text-generation"


@dataclass(frozen=True)
class ModelSpec:
    name: ModelName
    task: ModelTask
    base: str
    training: str
    predictor: str  # module under worker.predictors with a `load(version_dir, device)` function
    # Its first version is trained for minutes on a CPU (rather than counted or imported in
    # seconds): `make run` then trains it in the background while the rest is already served.
    slow_to_prepare: bool = False


REGISTRY: dict[ModelName, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            ModelName.COURSE_EXTRACTOR,
            ModelTask.TOKEN_CLASSIFICATION,
            base="EXTRACTOR_BASE (default: all-MiniLM-L6-v2 encoder)",
            training="python -m training.course_ner: BIO tagging on course titles placed in sentences",
            predictor="worker.predictors.course_extractor",
            slow_to_prepare=True,
        ),
        ModelSpec(
            ModelName.BIGRAM,
            ModelTask.TEXT_GENERATION,
            base="none (counted from the corpus)",
            training="python -m training.bigram: word bigram counts over the corpus",
            predictor="worker.predictors.bigram",
        ),
        ModelSpec(
            ModelName.RNN,
            ModelTask.TEXT_GENERATION,
            base="none (trained from scratch)",
            training="python -m training.rnn: word-level LSTM language model on the corpus",
            predictor="worker.predictors.rnn",
            slow_to_prepare=True,
        ),
        ModelSpec(
            ModelName.LLM,
            ModelTask.TEXT_GENERATION,
            base="LLM_BASE (default: SmolLM2-135M-Instruct)",
            training="python -m training.llm_base imports the base; python -m training.squad fine-tunes it",
            predictor="worker.predictors.llm",
        ),
    )
}

GENERATORS: frozenset[ModelName] = frozenset({ModelName.BIGRAM, ModelName.RNN, ModelName.LLM})
