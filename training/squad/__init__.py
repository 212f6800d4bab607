"""Fine-tune the causal LM on SQuAD question answering (``python -m training.squad``)."""

from training.squad.loop import FinetuneConfig, TrainingCancelledError, finetune

TrainingCancelled = TrainingCancelledError

__all__ = ["FinetuneConfig", "TrainingCancelled", "TrainingCancelledError", "finetune"]
