"""`python -m launcher` (what `make run` runs): everything starts, a dead worker comes back,
and Ctrl-C leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
import redis

from launcher.local_platform import base_env
from launcher.ports import free_port
from shared.config import PROJECT_ROOT


def processes_with(marker: str) -> list[int]:
    """PIDs whose environment carries the marker: the launcher and everything it started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def launcher_env(model_dir: Path, var_dir: Path, marker: str, **settings: str) -> dict[str, str]:
    """A `make run` environment on free ports, every process of it marked with ``marker``."""
    env = base_env(model_dir)
    env.pop("FLOWER_BASIC_AUTH")
    env.update(
        {marker: "1"},
        API_PORT=str(free_port()),
        FLOWER_PORT=str(free_port()),
        VAR_DIR=str(var_dir),
        INFERENCE_METRICS_PORT=str(free_port()),
        TRAINING_METRICS_PORT=str(free_port()),
    )
    env.update(settings)
    return env


def start_launcher(env: dict[str, str], log: BinaryIO, **popen_options: Any) -> subprocess.Popen[bytes]:
    """`python -m launcher` from the project root, its output and its children's in ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "launcher"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        **popen_options,
    )


def run_launcher_to_exit(env: dict[str, str], cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m launcher` that is expected to stop at once, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "launcher"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_launcher_starts_everything_restarts_a_dead_worker_and_stops_cleanly(
    model_dir: Path, tmp_path: Path
) -> None:
    marker = f"LAUNCHER_TEST_{uuid.uuid4().hex}"
    # rnn: a model `make run` checks (or trains) in the background
    env = launcher_env(model_dir, tmp_path / "var", marker, PRELOAD_MODELS="bigram,rnn")
    api_port, flower_port = env["API_PORT"], env["FLOWER_PORT"]
    log = (tmp_path / "launcher.log").open("wb")
    # Started with SIGINT ignored, as a shell's background job (`nohup make run &`) is: Ctrl-C
    # and `kill -INT` must stop it all the same.
    launcher = start_launcher(env, log, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30)
    launcher_log = tmp_path / "launcher.log"
    try:

        def ready() -> bool:
            try:
                return api.get("/ready").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 300, "the platform to be ready")
        assert api.post("/generate_text", json={"start_word": "the", "length": 3}).status_code == 200
        wait_until(lambda: "bootstrap | done" in launcher_log.read_text(errors="replace"), 120, "rnn checked")
        assert api.post("/generate_with_rnn", json={"start_word": "the", "length": 3}).status_code == 200
        flower = f"http://127.0.0.1:{flower_port}"
        # No FLOWER_BASIC_AUTH: its pages showed every job to every local user, and to a web page
        # reaching 127.0.0.1 by DNS rebinding. The launcher makes a login only this user reads.
        password_file = tmp_path / "var" / "flower-password"
        assert f"user admin, password in {password_file}" in launcher_log.read_text()
        assert password_file.stat().st_mode & 0o777 == 0o600
        login = ("admin", password_file.read_text().strip())
        for path in ("/workers", "/tasks/datatable", "/api/workers"):
            assert httpx.get(f"{flower}{path}", timeout=10).status_code == 401, path
        assert httpx.get(f"{flower}/workers", auth=login, timeout=10).status_code == 200
        assert httpx.get(f"{flower}/api/workers", auth=login, timeout=10).status_code == 200  # its buttons'
        assert (tmp_path / "var" / "redis" / "appendonlydir").is_dir()  # the private Redis keeps an AOF
        # and answers only clients that give its password, which no other local user can read
        shown = re.search(r"Redis +redis://:\*\*@127\.0\.0\.1:(\d+)/0", launcher_log.read_text())
        assert shown is not None, "the private Redis's URL, its password masked"
        redis_port = int(shown.group(1))
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=redis_port, socket_timeout=5).ping()
        assert (tmp_path / "var" / "redis" / "password.conf").stat().st_mode & 0o777 == 0o600

        worker_pid = api.get("/workers").json()["inference"][0]["pid"]
        os.killpg(worker_pid, signal.SIGKILL)

        def new_worker() -> bool:
            workers = api.get("/workers").json()["inference"]
            return any(w["pid"] != worker_pid for w in workers)

        wait_until(new_worker, 120, "the launcher to restart the inference worker")
        assert api.post("/generate_text", json={"start_word": "the", "length": 3}).status_code == 200

        # A fine-tune running when the platform stops: the SIGTERM to the training worker's whole
        # session killed the run's pool process on the spot ("lost mid-run (killed or out of
        # memory)"); the worker alone gets it now, and ends the run at its next step.
        finetune = {"max_steps": 500, "batch_size": 1, "eval_questions": 2, "max_seq_len": 128}
        job_id = api.post("/jobs", json={"type": "finetune", "input": finetune}).json()["job_id"]

        def training() -> bool:
            progress = api.get(f"/jobs/{job_id}").json()["progress"] or {}
            return progress.get("step", 0) >= 1

        wait_until(training, 240, "the fine-tune's first step")
    finally:
        launcher.send_signal(signal.SIGINT)
        # Ctrl-C pressed twice: the second lands while the launcher stops its children.
        with contextlib.suppress(AssertionError):
            wait_until(lambda: "stopping every process" in launcher_log.read_text(errors="replace"), 10, "")
            launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=180)  # its children's times to stop, the workers' 65 s among them
        except subprocess.TimeoutExpired:
            for pid in processes_with(marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise
        finally:
            api.close()
            log.close()
    output = (tmp_path / "launcher.log").read_text(errors="replace")
    assert "restarting" in output
    assert "stopping every process" in output
    assert "KeyboardInterrupt" not in output  # the launcher's own shutdown ran to its end
    assert f"job {job_id}: the worker is stopping" in output
    assert "WorkerStoppedError" in output and "WorkerLostError" not in output
    assert "training | did not stop" not in output  # the training worker ended its run and exited
    wait_until(lambda: not processes_with(marker), 30, "every process the launcher started to stop")


def test_a_closed_terminal_sighup_stops_every_process(model_dir: Path, tmp_path: Path) -> None:
    marker = f"LAUNCHER_TEST_{uuid.uuid4().hex}"
    env = launcher_env(model_dir, tmp_path / "var", marker, PRELOAD_MODELS="bigram")
    launcher_log = tmp_path / "launcher.log"
    with launcher_log.open("wb") as log:
        launcher = start_launcher(env, log)
        try:
            wait_until(
                lambda: "all processes started" in launcher_log.read_text(errors="replace"), 120, "a start"
            )
            started = processes_with(marker)
            assert len(started) >= 5, started  # the launcher, Redis, the API, Flower, the workers
        finally:
            launcher.send_signal(signal.SIGHUP)
            launcher.wait(timeout=60)
    assert "stopping every process" in launcher_log.read_text(errors="replace")
    wait_until(lambda: not processes_with(marker), 30, "every process the launcher started to stop")


def test_under_nohup_a_closed_terminal_leaves_the_platform_running(model_dir: Path, tmp_path: Path) -> None:
    """`nohup make run &` ignores SIGHUP so that the platform outlives the terminal, and the launcher
    set its own handler anyway: closing the terminal stopped everything (found by a review)."""
    marker = f"LAUNCHER_TEST_{uuid.uuid4().hex}"
    env = launcher_env(model_dir, tmp_path / "var", marker, PRELOAD_MODELS="bigram")
    launcher_log = tmp_path / "launcher.log"
    with launcher_log.open("wb") as log, socket.socket() as holder:
        # and a metrics port another program holds is said so, not announced as the worker's
        holder.bind(("127.0.0.1", int(env["INFERENCE_METRICS_PORT"])))
        holder.listen()
        launcher = start_launcher(env, log, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
        try:
            wait_until(
                lambda: "all processes started" in launcher_log.read_text(errors="replace"), 120, "a start"
            )
            taken = f"Metrics port {env['INFERENCE_METRICS_PORT']} is taken: the inference worker serves none"
            assert taken in launcher_log.read_text(errors="replace")
            launcher.send_signal(signal.SIGHUP)
            with pytest.raises(subprocess.TimeoutExpired):
                launcher.wait(timeout=3)
            assert "stopping every process" not in launcher_log.read_text(errors="replace")
        finally:
            launcher.send_signal(signal.SIGTERM)
            launcher.wait(timeout=60)
    wait_until(lambda: not processes_with(marker), 30, "every process the launcher started to stop")


def test_a_redis_url_in_dot_env_is_used_not_replaced_by_a_private_redis(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / ".env").write_text(f"REDIS_URL=redis://:s3cret-pw@127.0.0.1:{port}/0\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    completed = run_launcher_to_exit(env, cwd=tmp_path)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    # its password stays off the console, which `make run | tee` and CI logs keep
    assert f"REDIS_URL=redis://:**@127.0.0.1:{port}/0 is unreachable" in completed.stdout
    assert "s3cret" not in completed.stdout + completed.stderr


def test_a_port_already_taken_stops_the_launcher_before_it_starts_anything(tmp_path: Path) -> None:
    """Started anyway, the API exited at once and was restarted forever, while the launcher said
    every process had started."""
    marker = f"LAUNCHER_TEST_{uuid.uuid4().hex}"
    env = launcher_env(tmp_path / "models", tmp_path / "var", marker)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(env["API_PORT"])))
        holder.listen()
        completed = run_launcher_to_exit(env)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert f"API_PORT={env['API_PORT']} on 127.0.0.1" in completed.stdout
    assert not (tmp_path / "var" / "redis").exists()  # nothing was started


def test_a_redis_url_that_is_no_url_is_a_clear_error(tmp_path: Path) -> None:
    env = launcher_env(tmp_path / "models", tmp_path / "var", f"LAUNCHER_TEST_{uuid.uuid4().hex}")
    env["REDIS_URL"] = "localhost:6379"
    completed = run_launcher_to_exit(env)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "REDIS_URL must start with redis://" in completed.stdout
    assert "Traceback" not in completed.stderr
