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
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import UnauthorizedError
from shared.config import Settings, get_settings

OPEN_PATHS = frozenset({"/health"})

bearer = HTTPBearer(auto_error=False, description="One of API_KEYS (only when API_KEYS is set)")


def owner_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


async def authenticate(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    request.state.owner = ""
    request.state.may_finetune = True
    request.state.may_read_metrics = True
    if not settings.api_keys or request.url.path in OPEN_PATHS:
        return
    token = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else ""
    matched = [key for key in settings.api_keys if hmac.compare_digest(token.encode(), key.encode())]
    if not matched:
        raise UnauthorizedError("a valid API key is required: Authorization: Bearer <key>")
    request.state.owner = owner_of(matched[0])
    request.state.may_finetune = not settings.finetune_api_keys or matched[0] in settings.finetune_api_keys
    request.state.may_read_metrics = not settings.metrics_api_keys or matched[0] in settings.metrics_api_keys
