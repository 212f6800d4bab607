"""The API's typed errors and the one place that maps them (and infrastructure failures) to HTTP."""

from __future__ import annotations

import json
import logging
import math
from http import HTTPStatus
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from kombu.exceptions import OperationalError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)


class ApiError(Exception):
    status_code = 500

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class UnauthorizedError(ApiError):
    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class ForbiddenError(ApiError):
    status_code = 403


class NotFoundError(ApiError):
    status_code = 404


class InvalidRequestError(ApiError):
    """Input that only a route or the loaded model can check (the rest is the request models' 422),
    answered in the request models' shape: ``{"detail": [{"type", "loc", "msg"}]}``."""

    status_code = 422

    def __init__(self, message: str, loc: tuple[str, ...]) -> None:
        super().__init__(message)
        self.loc = loc


class JobConflictError(ApiError):
    status_code = 409


class IdempotencyConflictError(ApiError):
    status_code = 409


class PayloadTooLargeError(ApiError):
    status_code = 413


class QueueFullError(ApiError):
    status_code = 429


class TooManyWaitsError(ApiError):
    status_code = 429


class ServiceUnavailableError(ApiError):
    status_code = 503


class JobTimedOutError(ApiError):
    """A job the client waited for ran past the worker's INFERENCE_TIME_LIMIT."""

    status_code = 504


class JobFailedError(ApiError):
    """A job the client waited for failed in the worker: a server-side fault, not the client's."""

    status_code = 500


class ErrorBody(BaseModel):
    detail: str


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    return {code: {"model": ErrorBody, "description": HTTPStatus(code).phrase} for code in codes}


# Any route can answer these: API keys, body and head size, backpressure, Redis down.
COMMON_ERRORS = documented(401, 413, 429, 431, 503)


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    detail: Any = error.message
    if isinstance(error, InvalidRequestError):
        detail = [{"type": "value_error", "loc": list(error.loc), "msg": error.message}]
    return JSONResponse({"detail": detail}, status_code=error.status_code, headers=error.headers)


# one line each 30 s while Redis is down, not one for every request answered 503
_queue_unavailable_log = ThrottledLog(logger, logging.WARNING)


async def _queue_unavailable(_: Request, error: Exception) -> JSONResponse:
    _queue_unavailable_log.log("job queue unavailable: %s", error)
    return JSONResponse(
        {"detail": "the job queue (Redis) is unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a validation error echoes the request's input,
    which may hold a lone surrogate ("\\ud800") that UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _finite_only(value: Any) -> Any:
    """The value with every float that JSON cannot hold (NaN, Infinity: Python's JSON parser
    accepts them in a request, and 1e400 overflows to one) written as a string instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite_only(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_only(item) for item in value]
    return value


# A validation error echoes the input it refused; one nested deeper than this is named, not echoed
# (echoing walks it recursively, and a 1 KB body of nested lists would exhaust Python's stack).
MAX_ECHOED_DEPTH = 32


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and dicts inside ``value`` go more than ``limit`` levels deep (no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
    return False


def _echoable(value: Any) -> Any:
    """The refused input as JSON can hold it: a body that is no UTF-8 text (sent with a content type
    other than JSON, it reaches validation as bytes) decoded with replacement characters, input
    nested too deep named only, floats JSON cannot hold written as strings."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if _nested_deeper_than(value, MAX_ECHOED_DEPTH):
        return f"<input nested more than {MAX_ECHOED_DEPTH} levels deep: not echoed>"
    return _finite_only(jsonable_encoder(value))


def _error_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """One validation error as JSON, its input echoed as ``_echoable`` allows (encoded once)."""
    echoed = _finite_only(jsonable_encoder({key: value for key, value in entry.items() if key != "input"}))
    if "input" in entry:
        echoed["input"] = _echoable(entry["input"])
    return echoed


async def _invalid_request(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return AsciiJSONResponse({"detail": [_error_entry(entry) for entry in error.errors()]}, status_code=422)


# What FastAPI answers (400) for a JSON body its parser gives up on with anything but a syntax
# error: text that is no UTF-8, an integer past Python's 4,300 digits, about 1,000 levels of nesting.
UNREADABLE_BODY = "There was an error parsing the body"


def _unreadable_body_reason(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "the body is no UTF-8 text"
    if isinstance(cause, RecursionError):
        return "the body is nested too deep"
    if isinstance(cause, ValueError):
        return "the body holds a number too long to read"
    return "the body cannot be read as JSON"


async def _http_error(request: Request, error: Exception) -> Response:
    """FastAPI's own HTTP errors, less its 400 for an unreadable JSON body: a 422, as malformed
    JSON gets, and as the API documents for every input it refuses."""
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400 and error.detail == UNREADABLE_BODY:
        detail = [{"type": "json_invalid", "loc": ["body"], "msg": _unreadable_body_reason(error.__cause__)}]
        return JSONResponse({"detail": detail}, status_code=422)
    return await http_exception_handler(request, error)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for infrastructure_error in (redis.RedisError, OperationalError, ConnectionError, TimeoutError):
        app.add_exception_handler(infrastructure_error, _queue_unavailable)
