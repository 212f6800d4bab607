"""A fixed path asked for with its trailing slash toggled is served as the path itself.

Starlette answers such a request with a bodiless 307 to the other form, which `curl -s` shows as
nothing and many clients do not follow for a POST: `POST /extract-course-name` (the contract has
the slash) and `POST /generate_text/` (it has none) seemed to do nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send


def _toggled(path: str) -> str:
    return path.removesuffix("/") if path.endswith("/") else f"{path}/"


class TrailingSlashMiddleware:
    def __init__(self, app: ASGIApp, paths: Iterable[str]) -> None:
        self.app = app
        fixed = {path for path in paths if "{" not in path and path != "/"}
        self._canonical = {_toggled(path): path for path in fixed if _toggled(path) not in fixed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (canonical := self._canonical.get(scope["path"])) is not None:
            scope = {**scope, "path": canonical, "raw_path": canonical.encode()}
        await self.app(scope, receive, send)
