"""Log a line that every request would repeat at most once in a while, saying how many were left out.

During a Redis outage each request the API answers 503, and each open event stream at each retry,
logged a line of its own: hundreds a second that buried the one that mattered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class ThrottledLog:
    def __init__(
        self,
        logger: logging.Logger,
        level: int,
        every_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.level = level
        self.every_s = every_s
        self._clock = clock
        self._last: float | None = None
        self._left_out = 0
        self._lock = threading.Lock()

    def log(self, message: str, *args: object) -> None:
        """Logged when none was in the last ``every_s`` seconds; else counted, and the count told
        with the next one logged."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self.every_s:
                self._left_out += 1
                return
            self._last, left_out, self._left_out = now, self._left_out, 0
        if left_out:
            message += f" (and {left_out} more like it in the last {self.every_s:.0f} s)"
        self.logger.log(self.level, message, *args)
