"""`make run`'s console: a child's progress bar is shown while it runs, not all at once at its end."""

from __future__ import annotations

import io
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from launcher import supervisor
from launcher.console_lines import ConsoleLines
from launcher.supervisor import Supervisor
from tests.processes import running
from tests.worker.test_batching import wait_until

# A training's bar as tqdm draws it into a pipe: "\r" before each state, "\n" only when it closes.
# It waits for a file before its last steps, so the test can look at the console meanwhile.
TRAINING = """
import os, sys, time
from tqdm import tqdm
bar = tqdm(total=int(sys.argv[2]), desc="steps", mininterval=0, miniters=1)
for _ in range(int(sys.argv[2]) - 1):
    bar.update(1)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
bar.update(1)
bar.close()
print("finished")
"""


def _wait_for(predicate: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _run_training(tmp_path: Path, steps: int, seen_while_running: str) -> list[str]:
    """The console's lines of the training above: ``seen_while_running`` must show before it ends."""
    out, go_on = io.StringIO(), tmp_path / "go-on"
    console = Supervisor(env={"PATH": "/usr/bin:/bin"}, out=out)
    try:
        command = [sys.executable, "-c", TRAINING, str(go_on), str(steps)]
        child = console.start("train", command, restart=False)
        _wait_for(lambda: seen_while_running in out.getvalue())
        assert child.process is not None and child.process.poll() is None
        go_on.touch()
        _wait_for(lambda: "finished" in out.getvalue())
    finally:
        console.stop(timeout=5)
    return out.getvalue().splitlines()


def test_a_progress_bar_shows_in_the_console_while_the_child_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(supervisor, "PROGRESS_INTERVAL_S", 0.0)
    lines = _run_training(tmp_path, steps=3, seen_while_running="1/3")
    states = [line for line in lines if "steps:" in line]
    counts = [re.search(r"\d+/3", state).group() for state in states]
    assert list(dict.fromkeys(counts)) == ["0/3", "1/3", "2/3", "3/3"]  # closing, tqdm draws 3/3 twice
    assert all(line.startswith("    train |") for line in lines)


def test_a_fast_progress_bar_shows_its_first_and_last_states_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(supervisor, "PROGRESS_INTERVAL_S", 3600.0)
    lines = _run_training(tmp_path, steps=200, seen_while_running="0/200")
    states = [line for line in lines if "steps:" in line]
    assert len(states) == 2, states
    assert "0/200" in states[0] and "200/200" in states[1]
    assert lines[-1].endswith("finished")


def test_lines_are_cut_at_every_line_end_and_read_whole_across_reads() -> None:
    console = ConsoleLines()
    assert console.feed(b"one\ntwo\r") == [("one", False)]  # a "\r" last may be half of "\r\n"
    assert console.feed(b"\nbar 1\rbar 2\rcaf\xc3") == [("two", False), ("bar 1", True), ("bar 2", True)]
    assert console.feed(b"\xa9 done") == []
    assert console.flush() == [("café done", False)]
    assert console.flush() == []


def test_what_a_finished_child_forked_is_stopped_when_it_ends(tmp_path: Path) -> None:
    """Not only at Ctrl-C: by then the finished child's process number may belong to another."""
    out, pid_file = io.StringIO(), tmp_path / "pid"
    console = Supervisor(env={"PATH": "/usr/bin:/bin"}, out=out)
    console.start("oneshot", ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; exit 0"], restart=False)
    watcher = threading.Thread(target=console.watch, kwargs={"poll_interval": 0.05}, daemon=True)
    watcher.start()
    try:
        _wait_for(lambda: "oneshot | done" in out.getvalue())
        left_behind = int(pid_file.read_text())
        _wait_for(lambda: not running(left_behind), seconds=5)
    finally:
        console.stop(timeout=5)
        watcher.join(5)


def test_a_child_waiting_to_restart_holds_up_no_other_restart(tmp_path: Path) -> None:
    """One that keeps failing waits longer each time; meanwhile another that dies is restarted at
    once (it used to wait until the first one's delay was over)."""
    out = io.StringIO()
    console = Supervisor(env={"PATH": "/usr/bin:/bin"}, out=out)
    crashing = console.start("crashing", ["sh", "-c", "exit 3"])
    crashing.restarts = 4  # its next delay: 16 s
    marker = tmp_path / "starts"
    console.start("steady", ["sh", "-c", f"echo start >> {marker}; sleep 300"])
    watcher = threading.Thread(target=console.watch, kwargs={"poll_interval": 0.05}, daemon=True)
    watcher.start()
    try:
        _wait_for(lambda: "crashing | exited with code 3; restarting in 16.0 s" in out.getvalue())
        _wait_for(lambda: marker.is_file())
        steady = console.children[1].process
        assert steady is not None
        steady.kill()
        _wait_for(lambda: marker.read_text().count("start") == 2, seconds=10)
    finally:
        console.stop(timeout=5)
        watcher.join(5)


class ConsoleHeldAtItsFirstLine(io.StringIO):
    """A console that stops reading at its first line until ``resume`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.resume = threading.Event()

    def write(self, text: str) -> int:
        if not self.getvalue():
            super().write(text)
            self.resume.wait(timeout=10)
            return len(text)
        return super().write(text)


def test_the_notice_of_lines_left_out_stands_where_they_were_left_out() -> None:
    from launcher.console_queue import ConsoleQueue

    console = ConsoleHeldAtItsFirstLine()
    queue = ConsoleQueue(console, capacity=3)  # type: ignore[arg-type]
    queue.put("a")
    wait_until(lambda: console.getvalue() == "a\n")  # the writer holds "a", its queue is empty
    for line in "bcdef":  # b, c and d fill the queue; e and f are left out
        queue.put(line)
    console.resume.set()
    wait_until(lambda: console.getvalue().endswith("d\n"))
    queue.put("g")
    queue.drain(timeout=10)
    written = console.getvalue().splitlines()
    assert written == ["a", "b", "c", "d", "... 2 lines left out: the console was not reading", "g"]


def test_lines_left_out_at_the_end_are_noted_when_the_console_drains() -> None:
    from launcher.console_queue import ConsoleQueue

    console = ConsoleHeldAtItsFirstLine()
    queue = ConsoleQueue(console, capacity=1)  # type: ignore[arg-type]
    queue.put("a")
    wait_until(lambda: console.getvalue() == "a\n")
    for line in "bc":
        queue.put(line)
    console.resume.set()
    queue.drain(timeout=10)
    assert console.getvalue().splitlines() == ["a", "b", "... 1 line left out: the console was not reading"]
