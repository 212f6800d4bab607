"""What the tests ask of a process by its number."""

from __future__ import annotations

from pathlib import Path


def running(pid: int) -> bool:
    """Whether the process is there and not a zombie (ended, its parent not told yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
