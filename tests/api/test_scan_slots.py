"""Status-filtered listings a key runs at once."""

from __future__ import annotations

import pytest

from api.errors import TooManyWaitsError
from api.wait_slots import STATUS_SCANS_PER_KEY, ScanSlots


def test_a_key_runs_at_most_two_status_scans_at_once_and_other_keys_are_not_held_back() -> None:
    scans = ScanSlots()
    with scans.held("a"), scans.held("a"):
        with (
            pytest.raises(TooManyWaitsError, match=f"at most {STATUS_SCANS_PER_KEY} at once") as refused,
            scans.held("a"),
        ):
            pass
        assert refused.value.status_code == 429
        with scans.held("b"):
            pass
    with scans.held("a"):  # given back once answered
        pass
