"""Fixtures for worker code run in the test process against a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.config import get_settings
from shared.job_store import JobStore
from worker.runtime import get_runtime, reset_runtime


@pytest.fixture
def runtime_on(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobStore]:
    """This process's worker runtime, on the test Redis; its job store."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    reset_runtime()
    try:
        yield get_runtime().job_store
    finally:
        get_settings.cache_clear()
        reset_runtime()
