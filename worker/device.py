"""Choose the torch device once per worker process."""

from __future__ import annotations

import logging
from functools import lru_cache

import torch

from shared.config import DevicePreference, get_settings

logger = logging.getLogger(__name__)


@lru_cache
def get_device() -> torch.device:
    preference = get_settings().device
    if preference is DevicePreference.CUDA or (
        preference is DevicePreference.AUTO and torch.cuda.is_available()
    ):
        device = torch.device("cuda")
    else:
        device = torch.device("cpu")
    logger.info("worker device: %s", device)
    return device
