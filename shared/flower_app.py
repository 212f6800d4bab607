"""The Celery app Flower runs with (``celery -A shared.flower_app flower --logging=none``): the
platform's, with its logging, so that LOG_FORMAT=json holds for Flower's lines too (Tornado's own
set-up, which ``--logging=none`` turns off, wrote plain text)."""

from __future__ import annotations

from shared.celery_app import app
from shared.logging_setup import configure_logging

configure_logging()

__all__ = ["app"]
