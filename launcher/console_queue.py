"""The launcher's console: lines written by one thread, from a queue that never blocks its callers.

A console that stops reading (a stalled SSH session, Ctrl-S, `make run | less` paused) blocks a
write. Written by the threads that read the children's output, such a write stopped them reading:
each child's pipe filled, and the API and the workers blocked in their own writes, so the platform
stopped serving; stopping blocked on its own log line too. Here only the writer thread waits; the
queue holds ``capacity`` lines, and lines past that are counted and left out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TextIO

CAPACITY = 10_000  # lines held while the console is not reading
POLL_S = 0.05  # how often the writer looks for new lines when it has none


class ConsoleQueue:
    def __init__(self, out: TextIO, capacity: int = CAPACITY) -> None:
        self.out = out
        self._capacity = capacity
        self._lines: deque[str] = deque()
        self._left_out = 0
        self._writing = False
        self._gone = False
        threading.Thread(target=self._write_forever, name="console", daemon=True).start()

    def put(self, line: str) -> None:
        """Queue a line. Takes no lock and never waits, so a signal handler may call it while the
        thread it interrupted is in the middle of a call of its own."""
        if len(self._lines) >= self._capacity:
            self._left_out += 1
            return
        self._note_left_out()
        self._lines.append(line)

    def _note_left_out(self) -> None:
        """Queue the notice of the lines left out where they were: after the lines queued before them."""
        left_out, self._left_out = self._left_out, 0
        if left_out:
            lines = "line" if left_out == 1 else "lines"
            self._lines.append(f"... {left_out} {lines} left out: the console was not reading")

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the queued lines to be written (before the launcher exits)."""
        self._note_left_out()
        deadline = time.monotonic() + timeout
        while (self._lines or self._writing) and not self._gone and time.monotonic() < deadline:
            time.sleep(POLL_S / 5)

    def _write_forever(self) -> None:
        while True:
            try:
                self._writing = True
                line = self._lines.popleft()
            except IndexError:
                self._writing = False
                time.sleep(POLL_S)
                continue
            self._write(line)
            self._writing = False

    def _write(self, line: str) -> None:
        if self._gone:
            return
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except OSError:
            # the terminal closed (EIO) or the pipe's reader left (`make run | tee`, Ctrl-C)
            self._gone = True
