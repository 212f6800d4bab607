"""Request schemas: limits from the settings hold for the defaults too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from shared.config import get_settings
from shared.schemas import ExtractInput, FinetuneInput, FinetuneJobRequest, GenerateInput


@pytest.fixture
def max_finetune_steps_10(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MAX_FINETUNE_STEPS", "10")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_finetune_that_leaves_out_max_steps_is_held_to_max_finetune_steps(
    max_finetune_steps_10: None,
) -> None:
    """Its default of 20 skipped the check: MAX_FINETUNE_STEPS=10 let a body of {} run 20 steps."""
    with pytest.raises(ValidationError, match="max_steps must be at most 10"):
        FinetuneInput()
    assert FinetuneInput(max_steps=10).max_steps == 10


def test_a_finetune_job_with_no_input_is_refused_at_its_input(max_finetune_steps_10: None) -> None:
    with pytest.raises(ValidationError) as refused:
        FinetuneJobRequest.model_validate({"type": "finetune"})
    assert refused.value.errors()[0]["loc"] == ("input", "max_steps")


def test_a_finetune_job_with_no_input_takes_the_defaults() -> None:
    assert FinetuneJobRequest.model_validate({"type": "finetune"}).input == FinetuneInput()


def test_a_finetune_batch_is_held_to_max_finetune_batch_tokens() -> None:
    """Each bound alone let 64 x 2048 tokens through, whose logits alone take 26 GB."""
    limit = get_settings().max_finetune_batch_tokens
    with pytest.raises(ValidationError, match="MAX_FINETUNE_BATCH_TOKENS"):
        FinetuneInput(batch_size=64, max_seq_len=2048)
    assert FinetuneInput(batch_size=limit // 256, max_seq_len=256).batch_size == limit // 256


@pytest.mark.parametrize(
    ("field", "value"), [("length", "20"), ("seed", "7"), ("temperature", "0.5"), ("top_k", True)]
)
def test_a_number_field_refuses_strings_and_booleans(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"{field} must be a number"):
        GenerateInput.model_validate({"model": "llm", "start_word": "The", "length": 5, field: value})


def test_a_number_field_takes_json_numbers() -> None:
    parsed = GenerateInput.model_validate(
        {"model": "llm", "start_word": "The", "length": 5, "temperature": 1, "top_p": 0.9, "seed": 3}
    )
    assert (parsed.length, parsed.temperature, parsed.top_p, parsed.seed) == (5, 1.0, 0.9, 3)


@pytest.mark.parametrize("value", ["yes", "false", 1, 0, [True]])
def test_a_boolean_field_takes_true_or_false_only(value: object) -> None:
    """ "stream": "yes" (or "false", or 1) was read as a boolean, where a number field refuses "20"."""
    job = {"model": "llm", "start_word": "The", "length": 5}
    with pytest.raises(ValidationError, match="stream must be true or false"):
        GenerateInput.model_validate({**job, "stream": value})
    assert GenerateInput.model_validate({**job, "stream": True}).stream is True


def test_a_finetune_whose_warm_up_outlasts_it_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"warmup_steps \(10000\) must be at most max_steps \(3\)"):
        FinetuneInput(max_steps=3, warmup_steps=10_000)


def test_the_openapi_schema_shows_the_bounds_the_settings_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """They were checked in validators only: a client generated from the schema could not see them."""
    monkeypatch.setenv("MAX_GENERATION_LENGTH", "64")
    monkeypatch.setenv("MAX_TEXT_CHARS", "900")
    get_settings.cache_clear()
    try:
        length = GenerateInput.model_json_schema()["properties"]["length"]
        text = ExtractInput.model_json_schema()["properties"]["text"]
    finally:
        get_settings.cache_clear()
    assert (length["minimum"], length["maximum"]) == (1, 64)
    assert (text["minLength"], text["maxLength"]) == (1, 900)
