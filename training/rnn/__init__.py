"""Word-level LSTM text generator: model, training loop (``python -m training.rnn``)."""

from training.rnn.train import RnnTrainingConfig, ensure_trained, train

__all__ = ["RnnTrainingConfig", "ensure_trained", "train"]
