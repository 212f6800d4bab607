"""LOG_FORMAT=json: one JSON object per line, carrying the job id inside a task."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from celery import Celery

from shared.config import PROJECT_ROOT, get_settings
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
        # a worker's main process ending a job it does not run (a revoke) names the job itself
        logging.getLogger("worker.test").info("about a job", extra={"job_id": "job-456"})
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
    assert next(line for line in lines if line["message"] == "about a job")["job_id"] == "job-456"
    assert {"time", "level", "process"} <= set(inside)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("app", ["worker.inference_app", "worker.training_app"])
def test_a_worker_keeps_log_level_whatever_loglevel_celery_is_given(app: str) -> None:
    """Compose's worker commands give no --loglevel: Celery set the root logger to WARNING, and the
    workers' INFO lines (each model's load time, "worker ready") never appeared."""
    code = (
        f"import logging, {app} as worker_app\n"
        "worker_app.app.log.setup(loglevel='WARNING')\n"
        "print(logging.getLevelName(logging.getLogger().level))\n"
    )
    completed = run_python(code, LOG_LEVEL="INFO")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "INFO"


def test_the_servers_own_lines_are_json_too() -> None:
    """uvicorn's loggers kept their plain-text handlers: "INFO:     Started server process" and the
    tracebacks of unhandled errors broke a log reader that takes one JSON object per line."""
    code = (
        "import logging, logging.config\n"
        "from uvicorn.config import LOGGING_CONFIG\n"
        "logging.config.dictConfig(LOGGING_CONFIG)  # as uvicorn does before it imports the app\n"
        "from shared.logging_setup import configure_logging\n"
        "configure_logging()\n"
        "logging.getLogger('uvicorn.error').info('Started server process')\n"
        "logging.getLogger('uvicorn.error').debug('not at LOG_LEVEL=INFO')\n"
    )
    completed = run_python(code, LOG_FORMAT="json", LOG_LEVEL="INFO")
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stderr.strip().splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("uvicorn.error", "Started server process")
    ]


def test_an_access_log_the_server_switched_off_stays_off() -> None:
    """`make run` starts uvicorn with --no-access-log, and yet a line was logged for every request once
    uvicorn's loggers went through the root's handler (uvicorn logs requests when its access logger
    has any handler, its own or an ancestor's)."""
    code = (
        "import logging\n"
        "from uvicorn.config import Config\n"
        "Config('api.main:app', access_log=False).configure_logging()  # as uvicorn does\n"
        "from shared.logging_setup import configure_logging\n"
        "configure_logging()\n"
        "print(logging.getLogger('uvicorn.access').hasHandlers())\n"
        "Config('api.main:app', access_log=True).configure_logging()\n"
        "configure_logging()\n"
        "print(logging.getLogger('uvicorn.access').hasHandlers())\n"
    )
    completed = run_python(code, LOG_FORMAT="json", LOG_LEVEL="INFO")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["False", "True"]


def test_a_workers_prints_are_log_lines_as_celery_made_them() -> None:
    """Celery redirects a worker's stdout and stderr to its log only when it configures logging
    itself: prints and threads' tracebacks came out raw among the JSON lines."""
    code = (
        "import sys, types, worker.inference_app as worker_app\n"
        "from celery.signals import celeryd_after_setup\n"
        "instance = types.SimpleNamespace(app=worker_app.app, redirect_stdouts=True,"
        " redirect_stdouts_level='WARNING')\n"
        "celeryd_after_setup.send(sender='inference@test', instance=instance, conf=worker_app.app.conf)\n"
        "print('a stray print')\n"
        "sys.stdout.flush()\n"
    )
    completed = run_python(code, LOG_FORMAT="json", LOG_LEVEL="INFO")
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stderr.strip().splitlines() if line.startswith("{")]
    assert any(line["message"] == "a stray print" and line["level"] == "WARNING" for line in lines), completed
    assert "a stray print" not in completed.stdout


def test_a_workers_log_says_a_task_succeeded_without_its_result(caplog: pytest.LogCaptureFixture) -> None:
    """Celery logged each job's return value: a user's generated text or extracted names."""
    from shared.logging_setup import keep_celery_from_reconfiguring

    app = Celery("logging-test")

    @app.task
    def generate() -> dict:
        return {"generated_text": "a user's private words"}

    keep_celery_from_reconfiguring()
    with caplog.at_level(logging.INFO, logger="celery.app.trace"):
        generate.apply(task_id="job-789")
    assert "Task " in caplog.text and "[job-789] succeeded in" in caplog.text
    assert "private words" not in caplog.text
