"""A line every request would repeat is logged once in a while, with how many were left out."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from shared.log_throttle import ThrottledLog

START = 1_765_000_000.0  # the wall clock at the first line


def test_one_line_per_interval_then_the_count_of_those_left_out(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = ThrottledLog(
        logging.getLogger("throttle-test"),
        logging.WARNING,
        every_s=30,
        clock=lambda: now[0],
        wall_clock=lambda: START + now[0],
    )
    with caplog.at_level(logging.INFO, logger="throttle-test"):
        for second in range(100):  # a request every 0.5 s for 50 s
            now[0] = second / 2
            throttled.log("job queue unavailable: %s", "Connection refused")
        now[0] = 86_400.0  # a day later: the count says since when, not "in the last 30 s"
        throttled.log("job queue unavailable: %s", "Connection refused")
    first, second, third = (
        datetime.fromtimestamp(START + t).isoformat(timespec="seconds") for t in (0, 30, 0)
    )
    assert [record.getMessage() for record in caplog.records] == [
        "job queue unavailable: Connection refused",
        f"job queue unavailable: Connection refused (and 59 more like it after the one logged at {first})",
        f"job queue unavailable: Connection refused (and 39 more like it after the one logged at {second})",
    ]
    assert third == first
    assert all(record.levelno == logging.WARNING for record in caplog.records)
