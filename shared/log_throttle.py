"""Log a line that every request would repeat at most once in a while, saying how many were left out.

During a Redis outage each request the API answers 503, and each open event stream at each retry,
logged a line of its own: hundreds a second that buried the one that mattered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime


class ThrottledLog:
    def __init__(
        self,
        logger: logging.Logger,
        level: int,
        every_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.logger = logger
        self.level = level
        self.every_s = every_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._last: float | None = None
        self._last_wall = 0.0
        self._left_out = 0
        self._lock = threading.Lock()

    def log(self, message: str, *args: object, exc_info: bool = False) -> None:
        """Logged when none was in the last ``every_s`` seconds; else counted, and the count told
        with the next one logged, with the time of the one before it (an outage an hour ago is not
        this one)."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self.every_s:
                self._left_out += 1
                return
            left_out, since = self._left_out, self._last_wall
            self._last, self._last_wall, self._left_out = now, self._wall_clock(), 0
        if left_out:
            at = datetime.fromtimestamp(since).isoformat(timespec="seconds")
            message += f" (and {left_out} more like it after the one logged at {at})"
        self.logger.log(self.level, message, *args, exc_info=exc_info)
