"""A model with no version yet (a first `make run` still training it): 503 with Retry-After and
nothing queued, for waiting and async requests alike; then served as soon as a version lands in
the store, with no worker restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from launcher.local_platform import Platform, base_env
from shared.config import PROJECT_ROOT


def test_endpoint_answers_503_until_the_model_is_trained_then_serves_it(tmp_path: Path) -> None:
    empty_store = tmp_path / "models"
    running = Platform(tmp_path, base_env(empty_store))
    running.env["PRELOAD_MODELS"] = "bigram"
    try:
        running.start_redis()
        running.start_api()
        running.start_inference_worker()
        running.wait_ready_for("inference")
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
    finally:
        running.stop()
