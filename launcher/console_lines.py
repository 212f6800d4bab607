"""A child's output cut into lines, telling the lines a progress bar redraws from the ones it keeps.

tqdm, when it writes to a pipe, redraws its bar after a carriage return and writes a line feed
only when the bar closes. Read line feed to line feed, a training's bar shows nothing for the
whole training (19 minutes for the full extractor on 2 CPU cores) and then every update at once.
So a carriage return ends a line too, marked as progress: the supervisor shows some of those.
"""

from __future__ import annotations

import re

_LINE_END = re.compile(rb"\r\n|\r|\n")


class ConsoleLines:
    """Bytes in, complete lines out: ``(text, is_progress)``, ``is_progress`` for a line that a
    carriage return alone ended. "\\r\\n" ends a kept line. Bytes are cut at line ends only, so a
    character that a read split in two is decoded whole."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[tuple[str, bool]]:
        data = self._pending + chunk
        lines, start = [], 0
        for match in _LINE_END.finditer(data):
            if match.group() == b"\r" and match.end() == len(data):
                break  # the next read may bring the "\n" of a "\r\n"
            text = data[start : match.start()].decode(errors="replace").rstrip()
            lines.append((text, match.group() == b"\r"))
            start = match.end()
        self._pending = data[start:]
        return lines

    def flush(self) -> list[tuple[str, bool]]:
        """What is left once the output has ended: a last line with no line end, if any."""
        rest, self._pending = self._pending.rstrip(b"\r"), b""
        return [(rest.decode(errors="replace").rstrip(), False)] if rest.strip() else []
