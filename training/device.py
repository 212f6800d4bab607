"""The torch device for models, chosen once per process from the ``DEVICE`` setting.

Workers (inference and training) and the training CLIs all ask here, so ``DEVICE=cpu`` keeps
every model off a GPU and ``DEVICE=cuda`` fails loudly where there is none.
"""

from __future__ import annotations

import logging
from functools import lru_cache

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
