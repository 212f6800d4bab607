"""Logging for every process: plain text, or one JSON object per line with LOG_FORMAT=json.

Inside a Celery task each line carries the job id (the task id is the job id).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from celery._state import get_current_task

from shared.config import LogFormat, get_settings


class JobIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
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
