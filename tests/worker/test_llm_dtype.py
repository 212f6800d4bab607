"""The LLM predictor's dtype: bfloat16 only on a GPU that runs it natively."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from training.device import bf16_is_fast
from worker.predictors.llm import inference_dtype


@pytest.fixture(autouse=True)
def fresh_answers() -> Iterator[None]:
    bf16_is_fast.cache_clear()
    yield
    bf16_is_fast.cache_clear()


@pytest.mark.parametrize(("native", "dtype"), [(True, torch.bfloat16), (False, torch.float32)])
def test_a_gpu_gets_bfloat16_only_where_it_is_native(
    monkeypatch: pytest.MonkeyPatch, native: bool, dtype: torch.dtype
) -> None:
    asked = []

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        asked.append(including_emulation)
        return native or including_emulation  # a T4 or V100: emulated only

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert inference_dtype(torch.device("cuda")) == dtype
    assert asked == [False]


def test_the_cpu_generates_in_float32() -> None:
    assert inference_dtype(torch.device("cpu")) == torch.float32
