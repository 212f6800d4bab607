"""``python -m training.rnn``: train the word LSTM and publish a version."""

from training.rnn.train import main

main()
