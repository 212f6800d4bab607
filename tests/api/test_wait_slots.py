"""Waits held open at once: a ceiling per key and one for the whole API process."""

from __future__ import annotations

import contextlib

import pytest
from pydantic import ValidationError

from api.errors import ServiceUnavailableError, TooManyWaitsError
from api.wait_slots import TOTAL_WAITS, WaitSlots
from shared.config import Settings
from shared.job_store import API_WAITING_CONNECTIONS


def test_all_keys_together_hold_fewer_waits_than_the_process_has_connections_for() -> None:
    """Eleven keys at the default of 200 (or one at the 2,000 the settings allowed) took every
    waiting connection: every other key's waits then failed at once, with "the job queue (Redis)
    is unavailable"."""
    slots = WaitSlots(per_key=2, total=3)
    with contextlib.ExitStack() as held:
        for owner in ("a", "a", "b"):
            held.enter_context(slots.held(owner))
        with pytest.raises(ServiceUnavailableError, match="all it can") as refused, slots.held("c"):
            pass
        assert refused.value.headers == {"Retry-After": "5"}
        with pytest.raises(ServiceUnavailableError), slots.held("a"):
            pass
    with slots.held("c"):  # given back once answered
        pass
    with pytest.raises(TooManyWaitsError), slots.held("a"), slots.held("a"), slots.held("a"):
        pass
    assert TOTAL_WAITS < API_WAITING_CONNECTIONS
    with pytest.raises(ValidationError):  # one key could hold every wait
        Settings(max_waits_per_key=TOTAL_WAITS)
