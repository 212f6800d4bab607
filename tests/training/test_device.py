"""The DEVICE setting steers every model, training included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from shared.config import get_settings
from training.device import (
    NATIVE_BF16_FLAGS,
    TIMING_ATTEMPTS,
    NoCudaError,
    bf16_autocast,
    bf16_is_fast,
    bf16_pays_off,
    cpu_flags,
    get_device,
    time_bf16_against_fp32,
    timed_until_clear,
)


@pytest.fixture(autouse=True)
def fresh_choice() -> Iterator[None]:
    get_settings.cache_clear()
    get_device.cache_clear()
    yield
    get_settings.cache_clear()
    get_device.cache_clear()


def test_cpu_is_chosen_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_auto_follows_what_torch_sees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICE", "auto")
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_fails_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICE", "cuda")
    with pytest.raises(NoCudaError, match="DEVICE=cuda"):
        get_device()


def test_bf16_autocast_is_bf16_only_where_the_hardware_has_it() -> None:
    layer = torch.nn.Linear(4, 4)
    cpu = torch.device("cpu")
    with bf16_autocast(cpu, enabled=True):
        fast = layer(torch.ones(1, 4))
    with bf16_autocast(cpu, enabled=False):
        plain = layer(torch.ones(1, 4))
    assert fast.dtype == (torch.bfloat16 if bf16_is_fast(cpu) else torch.float32)
    assert plain.dtype == torch.float32


def test_only_cpus_with_bf16_instructions_count_as_native() -> None:
    skylake = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512vl avx512dq\n"
    sapphire_rapids = "flags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    graviton3 = "Features\t: fp asimd sve bf16 i8mm\n"
    assert not cpu_flags(skylake) & NATIVE_BF16_FLAGS  # AVX512 alone: bfloat16 is emulated
    assert cpu_flags(sapphire_rapids) & NATIVE_BF16_FLAGS
    assert cpu_flags(graviton3) & NATIVE_BF16_FLAGS
    assert cpu_flags("model name\t: something\n") is None


def test_the_timed_step_runs_while_a_model_predicts_under_inference_mode() -> None:
    """The first to ask may be the echo member's inference (`echo_word_scores`)."""
    with torch.inference_mode():
        fp32_seconds, bf16_seconds = time_bf16_against_fp32(repeats=1)
        assert torch.is_inference_mode_enabled()
    assert fp32_seconds > 0 and bf16_seconds > 0


def test_bf16_is_used_on_a_cpu_only_where_a_timed_step_is_faster() -> None:
    fp32_seconds, bf16_seconds = time_bf16_against_fp32(repeats=2)
    assert fp32_seconds > 0 and bf16_seconds > 0
    assert bf16_pays_off(fp32_seconds=0.020, bf16_seconds=0.012)  # AMD EPYC with AVX512-BF16
    assert not bf16_pays_off(fp32_seconds=0.018, bf16_seconds=0.031)  # the Intel Xeon of 2026-11-30
    assert not bf16_pays_off(fp32_seconds=0.020, bf16_seconds=0.019)  # no gain worth the precision


def test_a_busy_machine_times_bf16_again_before_deciding() -> None:
    """Timed beside a test run, both dtypes waited for the CPU alike (147.5 ms against 144.0): the
    extractor trained in float32, hours longer, on a CPU where bfloat16 is three times faster."""
    timings = iter([(0.1440, 0.1475), (0.0188, 0.0065), (0.0190, 0.0070)])
    pauses: list[float] = []
    fp32_seconds, bf16_seconds = timed_until_clear(lambda: next(timings), pauses.append)
    assert (fp32_seconds, bf16_seconds) == (0.0188, 0.0065) and len(pauses) == 1
    assert bf16_pays_off(fp32_seconds, bf16_seconds)
    # a clear answer either way is taken at once: the Intel Xeon of 2026-11-30, an idle AMD EPYC
    for clear in [(0.018, 0.031), (0.0188, 0.0065)]:
        pauses.clear()
        assert timed_until_clear(lambda clear=clear: clear, pauses.append) == clear and not pauses
    # no gain worth the precision, however often timed
    calls: list[int] = []
    unclear = timed_until_clear(lambda: calls.append(1) or (0.020, 0.019), pauses.append)
    assert not bf16_pays_off(*unclear) and len(calls) == TIMING_ATTEMPTS


def test_timing_bf16_draws_nothing_from_the_random_state() -> None:
    """A seeded run that asked first drew other numbers than one that asked later (a fine-tune's
    first run in a process gave other losses than its second with the same seed)."""
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    time_bf16_against_fp32(repeats=1)
    assert torch.equal(torch.rand(4), expected)
