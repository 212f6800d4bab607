"""Course-name extraction: BIO token classification on course titles placed in sentences."""

from training.course_ner.config import NerTrainingConfig
from training.course_ner.train import ensure_preview, ensure_trained, train

__all__ = ["NerTrainingConfig", "ensure_preview", "ensure_trained", "train"]
