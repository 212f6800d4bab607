"""The torch device for models, chosen once per process from the ``DEVICE`` setting.

Workers (inference and training) and the training CLIs all ask here, so ``DEVICE=cpu`` keeps
every model off a GPU and ``DEVICE=cuda`` fails loudly where there is none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import torch

from shared.config import DevicePreference, get_settings

logger = logging.getLogger(__name__)


class NoCudaError(RuntimeError):
    pass


@lru_cache
def get_device() -> torch.device:
    preference = get_settings().device
    if preference is DevicePreference.CUDA and not torch.cuda.is_available():
        raise NoCudaError("DEVICE=cuda but torch sees no CUDA GPU: set DEVICE=auto or DEVICE=cpu")
    use_cuda = preference is not DevicePreference.CPU and torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    logger.info("torch device: %s (DEVICE=%s)", device, preference.value)
    return device


# CPU flags (Linux /proc/cpuinfo: "flags" on x86, "Features" on ARM) of bfloat16 instructions.
# oneDNN also runs bfloat16 on plain AVX512 (Skylake to Ice Lake), emulated, and slower than
# float32 there, so its own check is not enough.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str) -> frozenset[str] | None:
    """The CPU's feature flags from the text of /proc/cpuinfo (None where it names none)."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def _cpu_has_native_bf16() -> bool:
    try:
        flags = cpu_flags(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        flags = None
    has_instructions = flags is None or bool(flags & NATIVE_BF16_FLAGS)  # not Linux: oneDNN's check alone
    return has_instructions and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


# bfloat16 must take at most this share of float32's time to be worth its lower precision.
BF16_MAX_TIME_RATIO = 0.9
# A ratio in this band may be a busy machine, where every step waits for the CPU alike: 147.5 ms
# against 144.0 in float32 on a 2-core AMD EPYC whose steps take 6.5 against 18.8 when it is idle
# (2026-12-06, beside a test run), and a whole extractor then trained in float32, hours longer. Such
# a step is timed again, up to TIMING_ATTEMPTS times, each dtype keeping its fastest.
UNCLEAR_RATIOS = (0.75, 1.25)
TIMING_ATTEMPTS = 3
TIMING_RETRY_PAUSE_S = 1.0


def time_bf16_against_fp32(repeats: int = 5) -> tuple[float, float]:
    """Seconds for one training step of a MiniLM-sized feed-forward block (768 tokens of width 384,
    forward and backward), in float32 and under bfloat16 autocast on the CPU: the best of
    ``repeats`` each, after two warm-up steps. About half a second in all on 2 cores.

    The first to ask may be a model predicting under inference mode (the echo member), where the
    step could not run backward, and a block made there trains no weights: float32 then timed
    10 ms against 28 for a real step (2-core AMD EPYC), and bfloat16 looked slower. So the block
    is made and timed with inference mode off and gradients on, and with a copy of the random
    state: a seeded run that asks first must draw the same numbers as one that asks later."""
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        generator = torch.Generator().manual_seed(0)
        block = torch.nn.Sequential(torch.nn.Linear(384, 1536), torch.nn.GELU(), torch.nn.Linear(1536, 384))
        tokens = torch.randn(768, 384, generator=generator)

        # the two in turns, so that a burst of load elsewhere slows both alike
        times: dict[bool, list[float]] = {False: [], True: []}
        for step in range(repeats + 2):
            for bf16 in (False, True):
                start = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    out = block(tokens)
                out.float().sum().backward()
                if step >= 2:
                    times[bf16].append(time.perf_counter() - start)
        return min(times[False]), min(times[True])


def bf16_pays_off(fp32_seconds: float, bf16_seconds: float) -> bool:
    return bf16_seconds <= BF16_MAX_TIME_RATIO * fp32_seconds


def timed_until_clear(
    timed: Callable[[], tuple[float, float]] = time_bf16_against_fp32,
    pause: Callable[[float], None] = time.sleep,
) -> tuple[float, float]:
    """The fastest float32 and bfloat16 steps of up to TIMING_ATTEMPTS timings: one more while their
    ratio is in UNCLEAR_RATIOS."""
    fp32_seconds, bf16_seconds = timed()
    for _ in range(TIMING_ATTEMPTS - 1):
        if not UNCLEAR_RATIOS[0] < bf16_seconds / fp32_seconds < UNCLEAR_RATIOS[1]:
            break
        pause(TIMING_RETRY_PAUSE_S)
        again_fp32, again_bf16 = timed()
        fp32_seconds, bf16_seconds = min(fp32_seconds, again_fp32), min(bf16_seconds, again_bf16)
    return fp32_seconds, bf16_seconds


@lru_cache
def bf16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 runs faster than float32 here: a recent GPU, or a CPU with bfloat16
    instructions (AVX512-BF16, AMX, Arm BF16) where a timed step says so. Some have the
    instructions and still run bfloat16 slower: training steps took 1.7 times as long under
    autocast on a 2-core Intel Xeon with AVX512-BF16 (2026-11-30), 1.6 times less on an AMD EPYC."""
    if device.type == "cuda":
        # not emulated: a GPU before Ampere (T4, V100) can make bfloat16 tensors, slowly
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu" or not _cpu_has_native_bf16():
        return False
    fp32_seconds, bf16_seconds = timed_until_clear()
    fast = bf16_pays_off(fp32_seconds, bf16_seconds)
    logger.info(
        "bfloat16 on this CPU: a timed step took %.1f ms against %.1f ms in float32: %s",
        bf16_seconds * 1000,
        fp32_seconds * 1000,
        "using it" if fast else "training in float32",
    )
    return fast


def uses_bf16(device: torch.device, requested: bool) -> bool:
    """Whether a training step or an inference pass that asked for bfloat16 really gets it here."""
    return requested and bf16_is_fast(device)


def bf16_autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """bfloat16 autocast for a training step or an inference pass where it is fast, else a no-op
    context."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device, enabled))
