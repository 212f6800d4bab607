"""How many waits each API key holds open in this API process, with a ceiling per key.

An SSE stream, a long poll (``GET /jobs/{id}?wait=``) and a synchronous endpoint each hold a
Redis connection in a blocking read for as long as they wait. Without a ceiling, one key that
opens thousands of them takes every connection the API has and every other key's requests fail
with 503. Past ``MAX_WAITS_PER_KEY`` a key's next wait is refused with 429; its other requests,
and every other key's, go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from api.errors import TooManyWaitsError

RETRY_AFTER_SECONDS = 5


class WaitSlots:
    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._open: Counter[str] = Counter()  # one event loop: no lock needed

    def open_waits(self, owner: str) -> int:
        return self._open[owner]

    def check(self, owner: str) -> None:
        """Refuse (429) a wait the key has no slot left for."""
        if self._open[owner] >= self.per_key:
            who = "this API key" if owner else "anonymous clients"
            raise TooManyWaitsError(
                f"{who} already hold {self._open[owner]} open waits (event streams, ?wait= polls and"
                f" synchronous requests; MAX_WAITS_PER_KEY={self.per_key}): close one, or poll"
                " GET /jobs/{id} without wait",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )

    @contextmanager
    def held(self, owner: str) -> Iterator[None]:
        """A slot for the block, or 429."""
        self.check(owner)
        self._open[owner] += 1
        try:
            yield
        finally:
            self._release(owner)

    async def held_while_streaming(self, owner: str, stream: AsyncIterator[str]) -> AsyncIterator[str]:
        """The stream, holding a slot from its first chunk until it ends or its client leaves. Call
        ``check`` before the response starts: a stream never started then holds nothing."""
        self._open[owner] += 1
        try:
            async for chunk in stream:
                yield chunk
        finally:
            self._release(owner)

    def _release(self, owner: str) -> None:
        self._open[owner] -= 1
        if self._open[owner] <= 0:
            del self._open[owner]
