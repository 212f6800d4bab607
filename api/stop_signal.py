"""The API told of its own stop signal, so that the requests waiting for a job end in time.

On SIGTERM or SIGINT uvicorn stops taking connections and waits for the requests it holds, up to
``--timeout-graceful-shutdown`` (8 s, `launcher.services.API_GRACEFUL_SHUTDOWN_S`), then cancels
them: a synchronous request still waiting for its job was answered 500 and its job's id was lost,
though the job went on in the workers. Told of the signal too, the waits go on for DRAIN_S, the
workers still running under `make run` (the launcher stops them after the API; compose stops
every container at once unless `docker compose stop api` comes first), then end
(`api.client_presence.unless_client_leaves`): a synchronous request answers 202 with its job's
url, as past SYNC_TIMEOUT, and a long poll the job as it stands.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # those uvicorn stops on
DRAIN_S = 5.0  # how long waits go on after the signal: under uvicorn's graceful 8 s, with room to answer
SignalHandler = Callable[[int, FrameType | None], Any]


class ServerStop:
    """When the server process got a stop signal, if it did; the server's own handler (uvicorn's)
    still runs after this one's. Where no such handler is set (signals reach the main thread only,
    and an app served by a test client has none), it never hears of one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.signalled_at: float | None = None
        self._clock = clock
        self._wrapped: dict[signal.Signals, tuple[SignalHandler, SignalHandler]] = {}

    def listen(self) -> ServerStop:
        if threading.current_thread() is threading.main_thread():
            for stop_signal in STOP_SIGNALS:
                server_handler = signal.getsignal(stop_signal)
                if callable(server_handler):  # not the default or ignored: a server that stops gracefully
                    ours = self._before(server_handler)
                    signal.signal(stop_signal, ours)
                    self._wrapped[stop_signal] = (ours, server_handler)
        return self

    def close(self) -> None:
        """The server's handlers back, where ours are still set (uvicorn restores its own anyway)."""
        for stop_signal, (ours, server_handler) in self._wrapped.items():
            if signal.getsignal(stop_signal) is ours:
                signal.signal(stop_signal, server_handler)
        self._wrapped.clear()

    def drained(self) -> bool:
        """Whether waits must end now: DRAIN_S have passed since the stop signal."""
        return self.signalled_at is not None and self._clock() - self.signalled_at >= DRAIN_S

    def _before(self, server_handler: SignalHandler) -> SignalHandler:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            if self.signalled_at is None:
                self.signalled_at = self._clock()
            server_handler(signum, frame)

        return on_signal
