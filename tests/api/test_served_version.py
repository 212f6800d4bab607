"""Which version GET /models names served, from what the live inference workers report."""

from __future__ import annotations

from api.routes.models import served_version


def test_the_newest_is_served_while_any_worker_has_not_failed_it() -> None:
    assert served_version("v2", []) == "v2"  # no worker reports yet: the next job loads the newest
    assert served_version("v2", [{"version": "v1"}]) == "v2"  # it swaps in v2 at its next batch
    one_failed = [{"version": "v1", "failed_version": "v2"}, {"version": "v2"}]
    assert served_version("v2", one_failed) == "v2"


def test_when_every_worker_failed_the_newest_the_one_they_hold_is_served() -> None:
    failed = [{"version": "v1", "failed_version": "v3"}, {"version": "v2", "failed_version": "v3"}]
    assert served_version("v3", failed) == "v2"
    assert served_version("v3", [{"version": None, "failed_version": "v3"}]) is None  # its jobs fail
    assert served_version(None, failed) is None
