"""The command line of every platform process, in one place (the launcher and the tests use it)."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from api.head_limit import MAX_REQUEST_HEAD_BYTES
from launcher.supervisor import STOP_TIMEOUT_S
from shared.config import LogFormat, Settings
from shared.model_registry import REGISTRY, ModelName

# On SIGTERM the API stops taking connections and finishes the requests it holds (the synchronous
# ones wait for their job), for at most this long; then it closes those left (a long wait, an event
# stream) and exits. Under the launcher's SIGKILL (STOP_TIMEOUT_S, 15 s) and Docker's (10 s).
API_GRACEFUL_SHUTDOWN_S = 8

# How long the training worker has to stop once it got SIGTERM, before it is killed (compose's
# stop_grace_period for the trainer says the same): its running fine-tune ends at its next batch.
TRAINING_STOP_TIMEOUT_S = 60.0


def api_command(settings: Settings) -> list[str]:
    # uvicorn's h11 parser holds a head still arriving to MAX_REQUEST_HEAD_BYTES (its httptools
    # parser has no bound: a client could make the API buffer a 100 MB header); h11 served
    # /health as fast here
    return [
        sys.executable, "-m", "uvicorn", "api.main:app",
        "--host", settings.api_host, "--port", str(settings.api_port),
        "--http", "h11", "--h11-max-incomplete-event-size", str(MAX_REQUEST_HEAD_BYTES),
        "--no-access-log", "--timeout-graceful-shutdown", str(API_GRACEFUL_SHUTDOWN_S),
    ]  # fmt: skip


def _celery(settings: Settings) -> list[str]:
    """``celery``, with --quiet under LOG_FORMAT=json: no start-up banner, whose lines are no JSON."""
    quiet = ["--quiet"] if settings.log_format is LogFormat.JSON else []
    return [sys.executable, "-m", "celery", *quiet]


def inference_stop_timeout_s(settings: Settings) -> float:
    """How long the inference worker has to stop once it got SIGTERM, before it is killed: it
    finishes the batches it runs, each within INFERENCE_TIME_LIMIT (compose gives it 40 s). Killed
    sooner, their jobs wait for the next start to run again."""
    return max(STOP_TIMEOUT_S, settings.inference_time_limit + 5.0)


def inference_worker_command(settings: Settings, name: str = "inference") -> list[str]:
    return [
        *_celery(settings), "-A", "worker.inference_app", "worker",
        "-Q", "inference", "--pool", "threads", "--concurrency", str(settings.max_batch_size),
        "-n", f"{name}@%h", "-E", "--loglevel", settings.log_level,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def training_worker_command(settings: Settings, name: str = "training") -> list[str]:
    return [
        *_celery(settings), "-A", "worker.training_app", "worker",
        "-Q", "training", "--pool", "prefork", "--concurrency", "1",
        "-n", f"{name}@%h", "-E", "--loglevel", settings.log_level,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def flower_command(settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "shared.flower_app", "flower",
        f"--address={settings.flower_host}", f"--port={settings.flower_port}", "--logging=none",
    ]  # fmt: skip


FLOWER_PASSWORD_FILE = "flower-password"
FLOWER_USER = "admin"


def flower_login(var_dir: Path) -> str:
    """`make run`'s Flower login where FLOWER_BASIC_AUTH is unset: user ``admin`` and a password
    kept in ``var/flower-password``, which only this user reads (made once, kept across starts).
    Without a password, Flower's pages showed every job's input and result to every local user, and
    to a web page reaching 127.0.0.1 by DNS rebinding (Flower checks no Host)."""
    path = var_dir / FLOWER_PASSWORD_FILE
    password = path.read_text().strip() if path.is_file() else ""
    if not password:
        var_dir.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(18)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{password}\n")
    os.chmod(path, 0o600)
    return f"{FLOWER_USER}:{password}"


def flower_env(settings: Settings) -> dict[str, str]:
    """The password in Flower's environment, which it reads, not on its command line, which any
    local user reads (``ps``). Without one, Flower's pages show every task and its HTTP API stays
    off: opened to clients without auth (FLOWER_UNAUTHENTICATED_API), Flower answers any web page
    the developer has open with `Access-Control-Allow-Origin: *`, which could then read every job's
    input and result and stop the workers."""
    if settings.flower_basic_auth:
        return {"FLOWER_BASIC_AUTH": settings.flower_basic_auth}
    return {"FLOWER_UNAUTHENTICATED_API": "false"}


def bootstrap_command(models: list[str], preview_first: bool = False) -> list[str]:
    return [
        sys.executable,
        "-m",
        "training.bootstrap",
        *models,
        *(["--preview-first"] if preview_first else []),
    ]


def split_by_preparation(models: list[str]) -> tuple[list[str], list[str]]:
    """The models ready in seconds (imported or counted) and those trained for minutes on a first run."""
    slow = [name for name in models if REGISTRY[ModelName(name)].slow_to_prepare]
    return [name for name in models if name not in slow], slow
