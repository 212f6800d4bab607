"""A line every request would repeat is logged once in a while, with how many were left out."""

from __future__ import annotations

import logging

import pytest

from shared.log_throttle import ThrottledLog


def test_one_line_per_interval_then_the_count_of_those_left_out(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = ThrottledLog(
        logging.getLogger("throttle-test"), logging.WARNING, every_s=30, clock=lambda: now[0]
    )
    with caplog.at_level(logging.INFO, logger="throttle-test"):
        for second in range(100):  # a request every 0.5 s for 50 s
            now[0] = second / 2
            throttled.log("job queue unavailable: %s", "Connection refused")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "job queue unavailable: Connection refused",
        "job queue unavailable: Connection refused (and 59 more like it in the last 30 s)",
    ]
    assert all(record.levelno == logging.WARNING for record in caplog.records)
