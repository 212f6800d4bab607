"""Refuse a request whose head (request line and headers) is over MAX_REQUEST_HEAD_BYTES with 431.

uvicorn's h11 parser (``--h11-max-incomplete-event-size``, as the launcher and the API image run
it) bounds the memory a head still arriving may hold: past it, a plain-text 400 and the connection
closed. A head that arrives whole in one read passes it: 100 KB sent at once was served. This
bounds what reaches the API's code either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.asgi_errors import send_error

MAX_REQUEST_HEAD_BYTES = 16_384
LINE_OVERHEAD = len(b"GET  HTTP/1.1\r\n")
HEADER_OVERHEAD = len(b": \r\n")


def head_bytes(scope: Scope) -> int:
    """The head's size as the client sent it, near enough: request line, each header and its
    separators."""
    target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
    line = len(scope["method"]) + target + LINE_OVERHEAD
    return line + sum(len(name) + len(value) + HEADER_OVERHEAD for name, value in scope["headers"])


class HeadSizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_HEAD_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or head_bytes(scope) <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        detail = f"request line and headers are larger than {self.max_bytes} bytes"
        await send_error(send, 431, detail, close=True)
