"""Optional API keys: with API_KEYS set, every endpoint but /health needs `Authorization: Bearer <key>`.

Each key owns the jobs it creates: another key sees them as 404. Keys are compared in constant
time and only a hash of the key is stored with a job. With FINETUNE_API_KEYS set, only those keys
may submit a fine-tune, whose outcome every key is then served.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import UnauthorizedError
from shared.config import Settings, get_settings

OPEN_PATHS = frozenset({"/health"})

bearer = HTTPBearer(auto_error=False, description="One of API_KEYS (only when API_KEYS is set)")


UNAUTHORIZED = "a valid API key is required: Authorization: Bearer <key>"
# Where KeyRequiredMiddleware leaves the request's key (of API_KEYS) for `authenticate`.
API_KEY_STATE = "api_key"


def owner_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def key_of(settings: Settings, token: str) -> str | None:
    """The one of API_KEYS that ``token`` is, compared in constant time; None if none."""
    matched = [key for key in settings.api_keys if hmac.compare_digest(token.encode(), key.encode())]
    return matched[0] if matched else None


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    return token if scheme.lower() == "bearer" else ""  # as HTTPBearer reads it


class KeyRequiredMiddleware:
    """With API_KEYS set, a request without a valid key gets 401 before its body is read: FastAPI
    reads and validates a body before the routes' dependencies run, so such a request got its
    body's 422 (or 400), and the API parsed it for a client it does not serve. ``open_paths``
    (/health, the OpenAPI docs) need none."""

    def __init__(self, app: ASGIApp, open_paths: frozenset[str]) -> None:
        self.app = app
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            settings = get_settings()
            key = key_of(settings, bearer_token(Headers(scope=scope).get("authorization")))
            if settings.api_keys and key is None and scope["path"] not in self.open_paths:
                error = UnauthorizedError(UNAUTHORIZED)
                refused = JSONResponse({"detail": error.message}, error.status_code, headers=error.headers)
                await refused(scope, receive, send)
                return
            scope.setdefault("state", {})[API_KEY_STATE] = key  # for `authenticate`
        await self.app(scope, receive, send)


async def authenticate(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """What the request's key may do; KeyRequiredMiddleware has checked the key, before the body
    was read (None: API keys are off, or an open path). ``_credentials`` declares the bearer
    scheme in the OpenAPI docs."""
    key = getattr(request.state, API_KEY_STATE, None)
    request.state.owner = owner_of(key) if key else ""
    request.state.may_finetune = _among(key, settings.finetune_api_keys)
    request.state.may_read_metrics = _among(key, settings.metrics_api_keys)


def _among(key: str | None, keys: list[str]) -> bool:
    """Whether a request with ``key`` may do what only ``keys`` may (empty: every key)."""
    return key is None or not keys or key in keys
