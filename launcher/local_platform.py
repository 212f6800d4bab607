"""Start real platform processes on free local ports: redis-server, Celery workers, uvicorn, Flower.

Used by the test suite and the benchmarks.

Everything listens on free local ports and logs into a file per process under the test's
directory; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from launcher import services
from launcher.ports import free_port, wait_for_port
from launcher.redis_server import redis_command
from shared.config import PROJECT_ROOT, Settings
from shared.job_store import is_ready

HOST = "127.0.0.1"


@dataclass
class Process:
    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the whole process group (Celery's pool children included)."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        self.kill(signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Platform:
    """A running set of platform processes sharing one Redis."""

    workdir: Path
    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)
    api_port: int = 0
    flower_port: int = 0
    redis_port: int = 0
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return self.env["REDIS_URL"]

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def flower_url(self) -> str:
        return f"http://{HOST}:{self.flower_port}"

    def settings(self) -> Settings:
        return Settings(**{k.lower(): v for k, v in self.env.items() if k.lower() in Settings.model_fields})

    def _start(self, name: str, command: list[str], **extra_env: str) -> Process:
        process = Process(name, command, self.workdir / f"{name}.log", {**self.env, **extra_env}).start()
        self.processes[name] = process
        return process

    def start_redis(self, *, append_only: bool = False) -> Process:
        self.redis_port = self.redis_port or free_port()
        self.env["REDIS_URL"] = f"redis://{HOST}:{self.redis_port}/0"
        process = self._start(
            "redis", redis_command(self.redis_port, self.workdir / "redis", append_only=append_only)
        )
        assert wait_for_port(HOST, self.redis_port, 20), process.log_tail()
        return process

    def start_api(self, **overrides: str) -> Process:
        self.api_port = free_port()
        self.env.update(overrides)
        self.env["API_PORT"] = str(self.api_port)
        process = self._start("api", services.api_command(self.settings()))
        assert wait_for_port(HOST, self.api_port, 60), process.log_tail()
        return process

    def start_inference_worker(self, name: str = "inference") -> Process:
        self.metrics_ports[name] = free_port()
        command = services.inference_worker_command(self.settings(), name=f"{name}-{self.api_port}")
        return self._start(name, command, INFERENCE_METRICS_PORT=str(self.metrics_ports[name]))

    def start_training_worker(self, name: str = "training") -> Process:
        self.metrics_ports[name] = free_port()
        command = services.training_worker_command(self.settings(), name=f"{name}-{self.api_port}")
        return self._start(name, command, TRAINING_METRICS_PORT=str(self.metrics_ports[name]))

    def start_flower(self) -> Process:
        self.flower_port = free_port()
        self.env["FLOWER_PORT"] = str(self.flower_port)
        settings = self.settings()
        process = self._start("flower", services.flower_command(settings), **services.flower_env(settings))
        assert wait_for_port(HOST, self.flower_port, 60), process.log_tail()
        return process

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=timeout)

    def wait_ready_for(self, queue: str, timeout: float = 300.0) -> None:
        """Until a live worker on ``queue`` is ready, its models preloaded (GET /workers)."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                if any(is_ready(worker) for worker in client.get("/workers").json().get(queue, [])):
                    return
                time.sleep(0.2)
        logs = "\n".join(f"--- {n}\n{p.log_tail()}" for n, p in self.processes.items())
        raise AssertionError(f"no live {queue} worker\n{logs}")

    def start_serving(self) -> None:
        """Redis, the API and one inference worker, returning once the worker heartbeats."""
        self.start_redis()
        self.start_api()
        self.start_inference_worker()
        self.wait_ready_for("inference")

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Until GET /ready reports a live worker on every queue that has one started."""
        deadline = time.monotonic() + timeout
        body: object = None
        with self.client() as client:
            while time.monotonic() < deadline:
                response = client.get("/ready")
                body = response.json()
                if response.status_code == 200:
                    return
                time.sleep(0.5)
        logs = "\n".join(f"--- {n}\n{p.log_tail()}" for n, p in self.processes.items())
        raise AssertionError(f"platform not ready: {body}\n{logs}")

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *_: object) -> None:
        """Stops every process started, however the block ends (a failed start included)."""
        self.stop()


def base_env(model_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "API_", "FLOWER_"))}
    env.update(
        # Set, so that a user's .env (read by every process from the project root) cannot give these
        # processes keys their clients do not send.
        API_KEYS="",
        MODEL_DIR=str(model_dir),
        PYTHONUNBUFFERED="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        LOG_LEVEL="INFO",
        MAX_BATCH_SIZE="32",
        FLOWER_BASIC_AUTH="admin:test-secret",
        BATCH_WAIT_MS="5",
    )
    return env
