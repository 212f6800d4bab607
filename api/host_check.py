"""Refuse requests addressed to another host name while the API takes them without a key.

`make run` serves the API on loopback with no API_KEYS: any process of the machine may use it, but
so could a web page its user opens, by DNS rebinding (a name of the page's own that resolves to
127.0.0.1 once the page has loaded): the browser then sends that name as ``Host``, and the page
could list every job and fine-tune the LLM everyone is served. A request whose ``Host`` is not a
loopback name, nor one of API_ALLOWED_HOSTS, gets 400.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.asgi_errors import send_error
from api.errors import ErrorBody
from shared.config import LOOPBACK_HOSTS

# The OpenAPI entry of the 400 every route can answer while this check is on.
HOST_REFUSED = {
    400: {
        "model": ErrorBody,
        "description": "Addressed to a host name that is not loopback nor in API_ALLOWED_HOSTS"
        " (the API takes requests without a key)",
    }
}


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:8000`` -> ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):  # an IPv6 address, bracketed
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class LoopbackHostMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = LOOPBACK_HOSTS | {host_name(name) for name in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        detail = (
            "this API takes requests without a key only when addressed as localhost, 127.0.0.1 or [::1]"
            " (a web page could otherwise reach it by DNS rebinding); add the name you use to"
            " API_ALLOWED_HOSTS, or set API_KEYS"
        )
        await send_error(send, 400, detail)

    def _allowed(self, scope: Scope) -> bool:
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        if not hosts:  # HTTP/1.0 with no Host: addressed to the socket itself
            return True
        return len(hosts) == 1 and host_name(hosts[0].decode("latin-1")) in self.allowed
