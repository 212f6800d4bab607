"""The LLM predictor's batches: each row as it would be alone."""

from __future__ import annotations

from pathlib import Path

import torch

from shared.model_registry import ModelName
from shared.model_store import ModelVersion
from worker.predictors.llm import LLMPredictor


def test_a_short_row_done_early_does_not_outrun_the_models_positions(tiny_gpt2_dir: Path) -> None:
    """A row that was done kept advancing its position while the longest row went on, past the
    model's last position (the tiny GPT-2's 128, GPT-2's 1,024): the batch failed with an index
    error, and on a GPU with an assert that breaks the process, though each row fitted alone."""
    predictor = LLMPredictor(ModelVersion(ModelName.LLM, "v1", tiny_gpt2_dir, {}), torch.device("cpu"))
    long_prompt = "Once upon a time there was a king who loved the sea. The queen said"
    prompt_tokens = len(predictor.tokenizer(long_prompt).input_ids)
    short = {"start_word": long_prompt, "length": 5, "seed": 1}
    longest = {"start_word": "The", "length": predictor.context - 8, "seed": 2}
    assert prompt_tokens + short["length"] + longest["length"] > predictor.context
    predictor.check_fits([short, longest])  # each row fits
    alone = [predictor.predict_batch([row])[0] for row in (short, longest)]
    assert predictor.predict_batch([short, longest]) == alone
