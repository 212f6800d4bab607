"""Which models `make run` prepares before the workers start, and which in the background."""

from __future__ import annotations

from launcher.services import split_by_preparation


def test_trained_models_are_prepared_in_the_background_in_the_order_given() -> None:
    quick, slow = split_by_preparation(["course-extractor", "bigram", "rnn", "llm"])
    assert quick == ["bigram", "llm"]
    assert slow == ["course-extractor", "rnn"]
