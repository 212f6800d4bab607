"""The API hears its own stop signal: its waits for jobs end DRAIN_S after it, and the server's own
handler (uvicorn's) still runs."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from api.stop_signal import DRAIN_S, ServerStop


@pytest.fixture
def server_handler() -> Iterator[list[int]]:
    """A SIGTERM handler as uvicorn sets one, recording the signals it gets."""
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, before)


def test_waits_end_drain_s_after_the_signal_and_the_server_still_hears_it(server_handler: list[int]) -> None:
    now = [100.0]
    stop = ServerStop(clock=lambda: now[0]).listen()
    assert not stop.drained()
    os.kill(os.getpid(), signal.SIGTERM)
    assert server_handler == [signal.SIGTERM] and stop.signalled_at == 100.0
    now[0] += DRAIN_S - 0.1
    assert not stop.drained()  # the workers may still finish the jobs waited for
    now[0] += 0.2
    assert stop.drained()
    os.kill(os.getpid(), signal.SIGTERM)  # a second signal moves nothing
    assert stop.signalled_at == 100.0 and server_handler == [signal.SIGTERM, signal.SIGTERM]


def test_closing_gives_the_server_its_handler_back(server_handler: list[int]) -> None:
    original = signal.getsignal(signal.SIGTERM)
    stop = ServerStop().listen()
    assert signal.getsignal(signal.SIGTERM) is not original
    stop.close()
    assert signal.getsignal(signal.SIGTERM) is original
