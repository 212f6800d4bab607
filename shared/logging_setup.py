"""Logging for every process: plain text, or one JSON object per line with LOG_FORMAT=json.

Inside a Celery task each line carries the job id (the task id is the job id).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from celery._state import get_current_task
from celery.app import trace as celery_trace
from celery.signals import celeryd_after_setup, setup_logging

from shared.config import LogFormat, get_settings

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JobIdFilter(logging.Filter):
    """The job id of the task this thread runs; a line logged outside any task about a job (a
    worker's main process ending a revoked job) gives it with ``extra={"job_id": ...}``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", "-") == "-":
            task = get_current_task()
            record.job_id = task.request.id if task is not None and task.request.id else "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", "-"),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging() -> None:
    settings = get_settings()
    handler = logging.StreamHandler()
    handler.addFilter(JobIdFilter())
    if settings.log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [job %(job_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    # a library's warnings (Celery's for a worker run as root) as log lines, not raw text among them
    logging.captureWarnings(True)
    # uvicorn configures its loggers (a plain-text handler each, not propagating) before it imports
    # the app: with LOG_FORMAT=json its lines, and the tracebacks it logs, were plain text among the
    # JSON ones. They go through the root's handler and level instead.
    for name in UVICORN_LOGGERS:
        server_logger = logging.getLogger(name)
        if not server_logger.handlers and not server_logger.propagate:
            continue  # switched off: --no-access-log leaves uvicorn.access so, and logs no request
        server_logger.handlers.clear()
        server_logger.propagate = True
        server_logger.setLevel(logging.NOTSET)


def keep_celery_from_reconfiguring() -> None:
    """Celery's worker sets the root logger's level from its --loglevel (WARNING when none is given,
    as compose's commands gave none) even with worker_hijack_root_logger off: a receiver of its
    setup_logging signal keeps it from configuring logging at all, so LOG_LEVEL and LOG_FORMAT hold."""
    setup_logging.connect(_configured_already, weak=False)
    celeryd_after_setup.connect(_redirect_stdouts, weak=False)
    # Celery's line for each task that succeeded gave its return value: every job's generated text
    # or extracted names, a user's data, in the worker's log. The job record holds the result.
    celery_trace.LOG_SUCCESS = "Task %(name)s[%(id)s] succeeded in %(runtime)ss"


def _configured_already(**_: object) -> None:
    configure_logging()


def _redirect_stdouts(sender: object, instance: Any, **_: object) -> None:
    """What Celery does when it configures logging itself, and skips when a receiver does: a print or
    a thread's traceback becomes a log line (one JSON object with LOG_FORMAT=json), not raw text."""
    if instance.redirect_stdouts:
        instance.app.log.redirect_stdouts(instance.redirect_stdouts_level)
