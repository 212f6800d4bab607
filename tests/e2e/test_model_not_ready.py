"""A model with no version yet (a first `make run` still training it): 503 with Retry-After and
nothing queued, for waiting and async requests alike; then served as soon as a version lands in
the store, with no worker restart."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from launcher.local_platform import Platform, base_env
from shared.config import PROJECT_ROOT
from shared.model_registry import ModelName
from shared.model_store import ModelStore


def test_endpoint_answers_503_until_the_model_is_trained_then_serves_it(tmp_path: Path) -> None:
    empty_store = tmp_path / "models"
    with Platform(tmp_path, base_env(empty_store)) as running:
        running.env["PRELOAD_MODELS"] = "bigram"
        running.start_serving()
        request = {"start_word": "the", "length": 5, "seed": 1}
        with running.client() as api:
            waiting = api.post("/generate_text", json=request)
            assert waiting.status_code == 503, waiting.text
            assert waiting.headers["Retry-After"] == "10"
            assert "python -m training.bootstrap bigram" in waiting.json()["detail"]
            job = {"type": "generate", "input": {"model": "bigram", **request}}
            refused = api.post("/jobs", json=job)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "10"
            assert api.get("/jobs").json()["jobs"] == []  # nothing was queued to fail later

            trained = subprocess.run(
                [sys.executable, "-m", "training.bigram"],
                env=running.env,
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
            )
            assert trained.returncode == 0, trained.stderr

            served = api.post("/generate_text", json=request)
            assert served.status_code == 200, served.text
            assert served.json()["generated_text"].lower().startswith("the ")
            accepted = api.post("/jobs", json=job)
            assert accepted.status_code == 202, accepted.text
            done = api.get(f"/jobs/{accepted.json()['job_id']}", params={"wait": 60}).json()
            assert done["status"] == "succeeded", done
            # the same seed, the same text
            assert done["result"]["generated_text"] == served.json()["generated_text"]


def test_a_version_that_fails_to_load_is_not_named_served_while_the_one_before_it_serves(
    tmp_path: Path,
) -> None:
    store_dir = tmp_path / "models"
    with Platform(tmp_path, base_env(store_dir)) as running:
        running.env["PRELOAD_MODELS"] = "bigram"
        command = [sys.executable, "-m", "training.bigram"]
        trained = subprocess.run(command, env=running.env, cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert trained.returncode == 0, trained.stderr
        good = ModelStore(store_dir).served_version_id(ModelName.BIGRAM)
        request = {"start_word": "the", "length": 5, "seed": 1}
        running.start_serving()
        with running.client() as api:
            assert api.post("/generate_text", json=request).status_code == 200
            view = _model_view_once(api, lambda v: v["loaded_by_workers"] == {good: 1})
            assert view["served_version"] == good
            assert view["failed_to_load"] == {}

            with ModelStore(store_dir).new_version(ModelName.BIGRAM, {}) as broken:
                pass  # no counts file: loading it fails
            assert api.post("/generate_text", json=request).status_code == 200  # the old one serves on
            view = _model_view_once(api, lambda v: v["failed_to_load"] == {broken.version: 1})
            assert view["versions"][-1]["version"] == broken.version
            assert view["served_version"] == good
            assert view["loaded_by_workers"] == {good: 1}
            listed = {model["name"]: model for model in api.get("/models").json()}
            assert listed["bigram"]["served_version"] == good


def _model_view_once(api: httpx.Client, shows: Callable[[dict], bool], timeout: float = 30.0) -> dict:
    """GET /models/bigram once the workers' heartbeats (every 2 s) show what ``shows`` asks."""
    deadline = time.monotonic() + timeout
    while True:
        view = api.get("/models/bigram").json()
        if shows(view) or time.monotonic() > deadline:
            return view
        time.sleep(0.2)
