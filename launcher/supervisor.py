"""Run child processes with prefixed logs, restart the ones that die, stop them all on exit.

Every child gets its own process session, so stopping one also stops what it forked (Celery's
pool processes: SIGKILL goes to the session, and SIGTERM too unless the child stops its pool
itself, `sigterm_to_leader_only`) and nothing is left running after the launcher exits; a launcher
killed outright takes its children with it (`DIE_WITH_THE_LAUNCHER`).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from launcher.console_lines import ConsoleLines
from launcher.console_queue import ConsoleQueue

COLORS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[31m"]
RESET = "\033[0m"
STOP_TIMEOUT_S = 15.0  # how long stop() waits for each child after SIGTERM, before SIGKILL
# How long a child that got SIGTERM alone (`sigterm_to_leader_only`) and did not stop in time waits,
# once its whole session got SIGTERM too, before SIGKILL: a Celery worker records the task its
# pool process was running as lost, rather than leave it running.
SESSION_SIGTERM_WAIT_S = 5.0
# A progress bar redraws itself several times a second: one state of it is shown at most this often
# for each child (the first and the last always).
PROGRESS_INTERVAL_S = 15.0
CONSOLE_DRAIN_S = 2.0  # how long stop() waits for the console to take the last lines
# A child that ran less than QUICK_EXIT_S is restarted after a delay that doubles each time, up to
# GIVE_UP_AFTER exits in a row (about half a minute in all): what makes it exit is then no passing
# fault (a setting, a missing file, memory) and it is not restarted again.
QUICK_EXIT_S = 60.0
GIVE_UP_AFTER = 6
FIRST_RESTART_DELAY_S = 0.5  # doubled at each quick exit in a row, up to 30 s


# The kernel kills each child when the launcher dies, however it dies (SIGKILL, the OOM killer): in
# sessions of their own, no terminal or group signal reaches them, and they outlived it holding the
# ports and the Redis data directory the next `make run` needs. setpriv (util-linux) sets that up
# and then runs the command in its own process; where it is missing, children go on without it.
_SETPRIV = shutil.which("setpriv") if sys.platform == "linux" else None
DIE_WITH_THE_LAUNCHER = [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV else []
# A launcher killed between the child's fork and setpriv's prctl left the child under a new parent
# (init, or a subreaper) that never dies, so the death signal never came. Once the signal is set,
# the child checks that its parent is still the launcher and exits if not, as prctl(2) advises.
_PARENT_CHECK = 'if [ "$PPID" != "$1" ]; then exit 137; fi; shift; exec "$@"'


def dying_with(launcher_pid: int, command: list[str]) -> list[str]:
    """``command``, run so that the kernel kills it when the process ``launcher_pid`` dies."""
    if not DIE_WITH_THE_LAUNCHER:
        return command
    return [*DIE_WITH_THE_LAUNCHER, "/bin/sh", "-c", _PARENT_CHECK, "sh", str(launcher_pid), *command]


@dataclass
class Child:
    name: str
    command: list[str]
    restart: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    finished: bool = False  # exited, and what it forked was stopped then (a one-shot child: reported)
    started_at: float = 0.0
    restart_at: float | None = None  # when a dead child that restarts is due to start again
    color: str = field(default="")
    pass_fds: tuple[int, ...] = ()  # open files it keeps (a lock it holds with the launcher)
    stop_first: bool = False  # stopped, and waited for, before every other child (the API)
    essential: bool = True  # the platform stops when it is given up (not Flower, say)
    # SIGTERM to the child alone, not its session (SIGKILL still goes to the session): a Celery
    # prefork worker stops its pool's processes itself, and a pool process that got SIGTERM died
    # on the spot, its job lost, where the worker would have ended it at its next step.
    sigterm_to_leader_only: bool = False
    stop_timeout_s: float | None = None  # how long it has to stop, where not stop()'s timeout
    # Children of one non-empty stop group get SIGTERM together and each its own time (the two
    # workers: their stops would add up, one after the other)
    stop_group: str = ""

    def time_to_stop(self, default: float) -> float:
        """How long it has after SIGTERM before SIGKILL."""
        return self.stop_timeout_s or default


class Supervisor:
    def __init__(self, env: Mapping[str, str], out: TextIO = sys.stdout) -> None:
        self.env = dict(env)
        self.children: list[Child] = []
        self.console = ConsoleQueue(out)
        self._stopping = threading.Event()
        self._use_color = out.isatty()

    def log(self, name: str, line: str, color: str = "") -> None:
        """Queue a line for the console: never waits for it (see `ConsoleQueue`), so a signal
        handler may log too."""
        prefix = f"{color}{name:>9} |{RESET}" if self._use_color and color else f"{name:>9} |"
        self.console.put(f"{prefix} {line}")

    def start(
        self,
        name: str,
        command: list[str],
        *,
        restart: bool = True,
        extra_env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
        stop_first: bool = False,
        essential: bool = True,
        sigterm_to_leader_only: bool = False,
        stop_timeout_s: float | None = None,
        stop_group: str = "",
    ) -> Child:
        color = COLORS[len(self.children) % len(COLORS)]
        child = Child(
            name, command, restart, extra_env or {}, color=color, pass_fds=pass_fds,
            stop_first=stop_first, essential=essential, sigterm_to_leader_only=sigterm_to_leader_only,
            stop_timeout_s=stop_timeout_s, stop_group=stop_group,
        )  # fmt: skip
        self.children.append(child)
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            dying_with(os.getpid(), child.command),
            env={**self.env, **child.extra_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=child.pass_fds,
        )
        child.started_at = time.monotonic()
        threading.Thread(target=self._pump, args=(child, child.process), daemon=True).start()

    def _pump(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        """Log the child's output line by line as it comes, with some of its progress bars' states."""
        stdout = process.stdout
        assert stdout is not None
        console, progress_shown_at = ConsoleLines(), -math.inf
        for chunk in iter(lambda: stdout.read1(65536), b""):
            for text, is_progress in console.feed(chunk):
                if is_progress:
                    now = time.monotonic()
                    if not text.strip() or now - progress_shown_at < PROGRESS_INTERVAL_S:
                        continue
                    progress_shown_at = now
                self.log(child.name, text, child.color)
        for text, _ in console.flush():
            self.log(child.name, text, child.color)

    def run_once(self, name: str, command: list[str]) -> int:
        """Run a one-shot command in the foreground with prefixed output; return its exit code."""
        child = Child(name, command, restart=False, color=COLORS[len(self.children) % len(COLORS)])
        self.children.append(child)
        self._spawn(child)
        assert child.process is not None
        code = child.process.wait()
        self.children.remove(child)
        return code

    def watch(self, poll_interval: float = 0.5) -> str | None:
        """Block until stop() is called, restarting children that die (with a growing delay, each
        its own: one child waiting to restart holds up no other). A child that keeps exiting soon
        after it starts is given up (`GIVE_UP_AFTER`); when it is essential, return why, at once."""
        while not self._stopping.wait(poll_interval):
            for child in self.children:
                if child.restart_at is not None:
                    if time.monotonic() >= child.restart_at:
                        child.restart_at = None
                        child.finished = False
                        self._spawn(child)
                    continue
                if child.process is None or child.process.poll() is None or child.finished:
                    continue
                code = child.process.returncode
                # What it forked goes with it, now: its group id is still its own while any of them
                # lives, but once it is empty the number can be reused by any process.
                _signal_group(child.process.pid, signal.SIGKILL)
                child.finished = True
                if not child.restart:
                    self.log(child.name, "done" if code == 0 else f"failed with code {code}", child.color)
                    continue
                ran_for = time.monotonic() - child.started_at
                child.restarts = 0 if ran_for > QUICK_EXIT_S else child.restarts + 1
                if child.restarts >= GIVE_UP_AFTER:
                    given_up = (
                        f"{child.name} exited {child.restarts} times in a row, each within "
                        f"{QUICK_EXIT_S:.0f} s of starting (last with code {code}): not restarted again; "
                        "its log above says why"
                    )
                    self.log(child.name, given_up, child.color)
                    if child.essential:
                        return given_up
                    continue
                delay = min(30.0, FIRST_RESTART_DELAY_S * 2**child.restarts)
                self.log(child.name, f"exited with code {code}; restarting in {delay:.1f} s", child.color)
                child.restart_at = time.monotonic() + delay
        return None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop every child, those marked `stop_first` first and the rest newest first: SIGTERM to
        its whole session (or to it alone: `sigterm_to_leader_only`), and SIGKILL to the session
        once its time (`stop_timeout_s`, else ``timeout``) has passed; then give the console a
        moment to show the last lines. One child (or one `stop_group`) is stopped at a time, so
        the workers still run while the API finishes the requests it holds, and Redis while the
        workers finish their jobs."""
        self._stopping.set()
        newest_first = sorted(reversed(self.children), key=lambda child: not child.stop_first)  # stable
        for together in _stop_groups(newest_first):
            try:
                self._terminate(together, timeout)
            except Exception:  # one child's failure to stop must not leave the older ones running
                for child in together:
                    if child.process is not None:
                        _signal_group(child.process.pid, signal.SIGKILL)
        self.console.drain(CONSOLE_DRAIN_S)

    def time_to_stop(self, timeout: float = STOP_TIMEOUT_S) -> dict[str, float]:
        """Each child's time to stop after SIGTERM, by name."""
        return {child.name: child.time_to_stop(timeout) for child in self.children}

    def _terminate(self, children: list[Child], timeout: float) -> None:
        """SIGTERM to each child at once; SIGKILL to each once its own time has passed."""
        # (a finished child's session went when it ended)
        running = [child for child in children if child.process is not None and not child.finished]
        asked_at = time.monotonic()
        for child in running:
            assert child.process is not None
            if child.process.poll() is not None:
                continue
            if child.sigterm_to_leader_only:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, signal.SIGTERM)
            else:
                _signal_group(child.process.pid, signal.SIGTERM)
        for child in running:
            process = child.process
            assert process is not None
            deadline = asked_at + child.time_to_stop(timeout)
            if not _exits_within(process, deadline - time.monotonic()):
                if child.sigterm_to_leader_only:
                    self.log(child.name, "did not stop in time: SIGTERM to what it started", child.color)
                    _signal_group(process.pid, signal.SIGTERM)
                    if not _exits_within(process, SESSION_SIGTERM_WAIT_S):
                        self.log(child.name, "did not stop: killing it", child.color)
                else:
                    self.log(child.name, "did not stop in time: killing it", child.color)
            _signal_group(process.pid, signal.SIGKILL)  # whatever it forked goes too
            process.wait()


def _stop_groups(children: list[Child]) -> list[list[Child]]:
    """``children`` in order, those next to each other with the same non-empty stop group as one."""
    groups: list[list[Child]] = []
    for child in children:
        if groups and child.stop_group and groups[-1][-1].stop_group == child.stop_group:
            groups[-1].append(child)
        else:
            groups.append([child])
    return groups


def _exits_within(process: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        process.wait(max(timeout, 0.0))
    except subprocess.TimeoutExpired:
        return False
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
