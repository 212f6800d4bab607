"""How many waits each API key holds open in this API process, with a ceiling per key.

An SSE stream, a long poll (``GET /jobs/{id}?wait=``) and a synchronous endpoint each hold a
Redis connection in a blocking read for as long as they wait. Without a ceiling, one key that
opens thousands of them takes every connection the API has and every other key's requests fail
with 503. Past ``MAX_WAITS_PER_KEY`` a key's next wait is refused with 429; its other requests,
and every other key's, go on. All keys together hold at most ``TOTAL_WAITS``: past it the next
wait gets 503 with Retry-After, where taking a connection from the exhausted pool failed, every
short request with it, with "the job queue (Redis) is unavailable".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.errors import ServiceUnavailableError, TooManyWaitsError
from shared.job_store import API_WAITING_CONNECTIONS

RETRY_AFTER_SECONDS = 5
# Waits of all keys together: the API's waiting connections, less some for the waits that take one
# without a slot (a job's last read after its wait ran out).
TOTAL_WAITS = API_WAITING_CONNECTIONS - 100


class _SlotHoldingStream(StreamingResponse):
    def __init__(self, content: AsyncIterator[str], release: Callable[[], None], **response: Any) -> None:
        super().__init__(content, **response)
        self._give_back = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._give_back()


class WaitSlots:
    def __init__(self, per_key: int, total: int = TOTAL_WAITS) -> None:
        self.per_key = per_key
        self.total = total
        self._open: Counter[str] = Counter()  # one event loop: no lock needed
        self._held = 0

    def _refusal(self, held: str) -> str:
        """Why a key that holds ``held`` ("this API key holds 200") gets no slot."""
        return (
            f"{held} open waits already (event streams, ?wait= polls and synchronous requests;"
            f" MAX_WAITS_PER_KEY={self.per_key}): close one, or poll GET /jobs/{{id}} without wait"
        )

    def _take(self, owner: str) -> None:
        """A slot for the key, or 429 when it has none left (503 when the process has none)."""
        if self._held >= self.total:
            raise ServiceUnavailableError(
                f"this API process holds {self._held} open waits, all it can; retry shortly, or poll"
                " GET /jobs/{id} without wait",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if self._open[owner] >= self.per_key:
            who = "this API key holds" if owner else "anonymous clients hold"
            raise TooManyWaitsError(
                self._refusal(f"{who} {self._open[owner]}"), headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            )
        self._open[owner] += 1
        self._held += 1

    @contextmanager
    def held(self, owner: str) -> Iterator[None]:
        """A slot for the block, or 429."""
        self._take(owner)
        try:
            yield
        finally:
            self._release(owner)

    def streaming(self, owner: str, content: AsyncIterator[str], **response: Any) -> StreamingResponse:
        """A streaming response that holds a slot from now until it ends, however it ends (read to
        the end, or its client gone), or 429. Taken here, not when the stream starts: the stream
        starts a tick later, and a burst of requests would all pass the check before any counted."""
        self._take(owner)
        return _SlotHoldingStream(content, lambda: self._release(owner), **response)

    def _release(self, owner: str) -> None:
        self._held -= 1
        self._open[owner] -= 1
        if self._open[owner] <= 0:
            del self._open[owner]


# GET /jobs with a status filter looks at up to LIST_SCAN_MAX entries (48 ms for 20,000 on 2 cores,
# 2026-12-06; 1.2 s when the API read each record) in Redis scripts of PAGE_CHUNK entries: this many
# at once per key, so that one key's scans cannot slow every other key's requests (eight at once
# took another key's plain listing from 5 to 400 ms).
STATUS_SCANS_PER_KEY = 2


class ScanSlots(WaitSlots):
    """The status-filtered listings each key runs at once."""

    def __init__(self) -> None:
        super().__init__(STATUS_SCANS_PER_KEY)

    def _refusal(self, held: str) -> str:
        return f"{held} listings with a status filter under way already (at most {self.per_key} at once)"
