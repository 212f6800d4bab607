"""The torch device for models, chosen once per process from the ``DEVICE`` setting.

Workers (inference and training) and the training CLIs all ask here, so ``DEVICE=cpu`` keeps
every model off a GPU and ``DEVICE=cuda`` fails loudly where there is none.
"""

from __future__ import annotations

import logging
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


@lru_cache
def bf16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 matmuls run natively here (a recent GPU, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_has_native_bf16()


def uses_bf16(device: torch.device, requested: bool) -> bool:
    """Whether a training run that asked for mixed precision really gets bfloat16 here."""
    return requested and bf16_is_fast(device)


def training_autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """bfloat16 autocast for a training step where it is native, else a no-op context."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device, enabled))
