"""Stop waiting for a job once the client that asked has gone.

A ``?wait=`` poll or a synchronous request holds one of its key's wait slots (``WaitSlots``) for
as long as it waits. Starlette cancels nothing when a client of a plain (non-streaming) response
disconnects, so a client that gave up after a second kept its slot for MAX_WAIT or SYNC_TIMEOUT,
and one that retried on a short timeout soon found all its slots taken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

from api.stop_signal import ServerStop

T = TypeVar("T")

CHECK_EVERY_S = 0.5


async def unless_client_leaves(request: Request, waiting: Awaitable[T]) -> T | None:
    """What ``waiting`` gives, or None once the client has disconnected or the server, told to
    stop, has waited long enough (`api.stop_signal`); ``waiting`` is then cancelled."""
    server_stop: ServerStop | None = getattr(request.app.state, "server_stop", None)
    task = asyncio.ensure_future(waiting)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=CHECK_EVERY_S)
            if done:
                return task.result()
            if (server_stop is not None and server_stop.drained()) or await request.is_disconnected():
                return None
    finally:
        task.cancel()
