"""What a real inference worker writes to its log while it loads the served models."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.local_platform import Platform, base_env
from shared.celery_app import create_celery_app
from tests.conftest import wait_for_job


def test_model_loads_log_one_line_each_and_no_progress_bar(platform: Platform) -> None:
    """transformers draws a "Loading weights" bar for each model it loads; Celery used to log every
    redraw of it as a WARNING line. The platform is ready only after the worker preloaded its models."""
    log = platform.processes["inference"].log_path.read_text(errors="replace")
    assert "loaded course-extractor version" in log
    assert "loaded llm version" in log
    assert "Loading weights" not in log


@pytest.fixture
def json_logging(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    env = base_env(model_dir)
    env.update(LOG_FORMAT="json", PRELOAD_MODELS="bigram")
    with Platform(tmp_path, env) as running:
        running.start_serving()
        running.start_flower()
        yield running


def test_with_log_format_json_every_process_writes_json_lines_naming_their_job(
    json_logging: Platform,
) -> None:
    """Celery's start-up banner and every line of Flower's were plain text under `make run`, and a
    job revoked through Celery was logged with job_id "-" (its id in the message alone)."""
    generation = {
        "type": "generate",
        "input": {"model": "llm", "start_word": "Once", "length": 256, "seed": 1},
    }
    with json_logging.client() as api:
        done = api.post(
            "/jobs", json={"type": "generate", "input": {"model": "bigram", "start_word": "a", "length": 2}}
        )
        assert wait_for_job(api, done.json()["job_id"])["status"] == "succeeded"
        revoked = api.post("/jobs", json=generation).json()["job_id"]
        deadline = time.monotonic() + 120
        while api.get(f"/jobs/{revoked}").json()["status"] == "queued":
            assert time.monotonic() < deadline, "the generation never started"
            time.sleep(0.1)
        # the worker's main process, not the task, ends it: no task's id to take
        create_celery_app(None, json_logging.settings()).control.revoke(revoked)
        assert wait_for_job(api, revoked)["status"] == "cancelled"
    log = json_logging.processes["inference"].log_path
    for name, process in json_logging.processes.items():
        if name == "redis":  # redis-server's own format (`make run` prefixes it as every process's)
            continue
        lines = [line for line in process.log_path.read_text(errors="replace").splitlines() if line.strip()]
        assert lines, name
        not_json = [line for line in lines if not line.startswith("{")]
        assert not_json == [], (name, not_json[:3])
        for line in lines:
            json.loads(line)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    cancelling = [line for line in lines if "revoked through Celery while it ran" in line["message"]]
    assert [line["job_id"] for line in cancelling] == [revoked], cancelling
