"""LOG_FORMAT=json: one JSON object per line, carrying the job id inside a task."""

from __future__ import annotations

import json
import logging

import pytest
from celery import Celery

from shared.config import get_settings
from shared.logging_setup import configure_logging


def test_json_lines_carry_the_job_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    get_settings.cache_clear()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging()
        app = Celery("logging-test")

        @app.task(bind=True)
        def work(self) -> None:
            logging.getLogger("worker.test").info("inside the job")

        logging.getLogger("api.test").info("outside any job")
        work.apply(task_id="job-123")
        lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])
        get_settings.cache_clear()
    inside = next(line for line in lines if line["message"] == "inside the job")
    outside = next(line for line in lines if line["message"] == "outside any job")
    assert inside["job_id"] == "job-123"
    assert inside["logger"] == "worker.test"
    assert outside["job_id"] == "-"
    assert {"time", "level", "process"} <= set(inside)
