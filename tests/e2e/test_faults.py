"""Faults with real processes: no accepted job is ever lost.

- kill -9 of the inference worker while it runs a job: the job is delivered again and succeeds;
- Redis killed and restarted while jobs wait in the queue: with the AOF Redis every one completes;
- Redis killed while a synchronous request waits for its queued job: 202 with the job's id, and
  the job completes once Redis is back;
- Redis restarted while a client reads a job's events: the stream goes on to its final event;
- Redis down for longer than a client's own reconnect attempts while a job runs: the job's outcome
  is written once Redis is back, not lost with the job left running, and the worker goes on;
- kill -9 of the training worker mid-run: the job fails with a clear error and the served model
  version and the store are unchanged;
- an inference job past INFERENCE_TIME_LIMIT fails (504 when waited for) with a message naming it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from launcher.local_platform import Platform, base_env
from shared.job_store import JobStore
from tests.conftest import wait_for_job

# Longer than redis-py's reconnect attempts, well inside the fixture's 15 s visibility timeout, after
# which kombu would hand the job out again.
REDIS_OUTAGE_SECONDS = 12


@pytest.fixture
def fresh(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    env = base_env(model_dir)
    # A short visibility timeout: the killed worker's job is redelivered 15-20 s after it was first
    # delivered (workers look for lost jobs every 5 s), which leaves the new worker most of the 60 s
    # the issue allows; the time limit (below the timeout) leaves room for a busy 2-core machine.
    env.update(INFERENCE_VISIBILITY_TIMEOUT="15", INFERENCE_TIME_LIMIT="12", PRELOAD_MODELS="llm,bigram")
    with Platform(tmp_path, env) as running:
        running.start_redis(append_only=True)
        running.start_api()
        yield running


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
        payload = {"model": "llm", "start_word": "Once", "length": 32, "seed": 3}
        job_id = api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]
        first_start = wait_for_status(api, job_id, "running", timeout=60)["started_at"]
        fresh.processes["inference-a"].kill()

        fresh.start_inference_worker("inference-b")
        job = wait_for_job(api, job_id, timeout=60)
        assert job["status"] == "succeeded", json.dumps(job)
        assert job["started_at"] > first_start, "the job finished before the kill: nothing was redelivered"
        assert job["result"]["generated_text"].startswith("Once")


def test_a_streamed_job_whose_worker_was_lost_after_its_first_token_fails_rather_than_stream_twice(
    fresh: Platform,
) -> None:
    """Run again, it streamed its tokens a second time after the first run's (and, unseeded, other
    ones), and its result no longer matched what the client had read."""
    fresh.start_inference_worker("inference-a")
    fresh.wait_ready_for("inference")
    with fresh.client() as api:
        payload = {"model": "llm", "start_word": "Once", "length": 200, "stream": True}
        job_id = api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]
        with api.stream("GET", f"/jobs/{job_id}/events") as events:
            next(line for line in events.iter_lines() if line == "event: token")
        fresh.processes["inference-a"].kill()
        fresh.start_inference_worker("inference-b")
        job = wait_for_job(api, job_id, timeout=60)
        assert job["status"] == "failed", json.dumps(job)
        assert job["error"]["type"] == "WorkerLost"
        assert "streamed tokens" in job["error"]["message"]


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


def test_a_synchronous_request_whose_wait_redis_fails_answers_with_its_queued_job(fresh: Platform) -> None:
    """It answered 503 for a job it had queued: the client lost its id, and a retry ran it twice."""
    with fresh.client(timeout=30) as api, ThreadPoolExecutor(1) as pool, fresh.client(timeout=30) as waiting:
        broker = JobStore.from_url(fresh.redis_url, ttl=600).client
        answer = pool.submit(waiting.post, "/generate_text", json={"start_word": "the", "length": 3})
        deadline = time.monotonic() + 20
        # no worker runs: its task waits in the queue. Its record is listed before the task is
        # published, and a kill between the two is a refused job (503), not this test's case.
        while not broker.llen("inference"):
            assert time.monotonic() < deadline, "the job was never queued"
            time.sleep(0.05)
        fresh.processes["redis"].kill()
        response = answer.result(timeout=30)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        assert response.headers["Location"].endswith(f"/jobs/{job_id}")

        fresh.start_redis(append_only=True)
        fresh.start_inference_worker()
        job = wait_for_job(api, job_id, timeout=120)
        assert job["status"] == "succeeded", json.dumps(job)
        assert job["result"]["generated_text"].startswith("the")
        assert len(api.get("/jobs").json()["jobs"]) == 1


def test_an_events_stream_rides_out_a_redis_restart_and_ends_with_its_final_event(fresh: Platform) -> None:
    """It was cut off without its final event, and a client that reconnected while Redis was
    still down got 503, after which EventSource stops reconnecting."""
    with fresh.client(timeout=30) as api:
        payload = {"model": "llm", "start_word": "Once", "length": 4, "seed": 5, "stream": True}
        job_id = api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]
        events: list[str] = []
        with api.stream("GET", f"/jobs/{job_id}/events") as response:
            lines = response.iter_lines()
            for line in lines:
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                    break  # queued: no worker runs yet
            fresh.processes["redis"].kill()
            time.sleep(3)
            fresh.start_redis(append_only=True)
            fresh.start_inference_worker()
            events += [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
        assert events[0] == "status" and events[-1] == "final", events
        assert api.get(f"/jobs/{job_id}").json()["status"] == "succeeded"


def test_a_job_that_ends_while_redis_is_down_is_recorded_when_it_is_back(fresh: Platform) -> None:
    fresh.start_inference_worker()
    fresh.wait_ready_for("inference")
    with fresh.client(timeout=30) as api:
        # 64 tokens end inside the outage on a slow CPU (100 took 12 s on 2 cores with no AVX512),
        # but may end before the kill when the test's poll is starved of CPU beside the busy worker
        # (they ended 5 s before it once, 2026-12-07): such a run is not this test's case, and the
        # test runs the job anew
        payload = {"model": "llm", "start_word": "Once", "length": 64, "seed": 5}
        for _attempt in range(3):
            job_id = api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]
            started_at = wait_for_status(api, job_id, "running", timeout=60)["started_at"]
            fresh.processes["redis"].kill()
            killed_at = datetime.now(UTC)
            time.sleep(REDIS_OUTAGE_SECONDS)
            restarted_at = datetime.now(UTC)
            fresh.start_redis(append_only=True)

            # the API's pooled connections to the old Redis are made anew, not answered with 503
            assert api.get(f"/jobs/{job_id}").status_code == 200
            job = wait_for_job(api, job_id, timeout=90)
            assert job["status"] == "succeeded", json.dumps(job)
            if datetime.fromisoformat(job["finished_at"]) > killed_at:
                break
        else:
            pytest.fail("the job ended before Redis was killed on each of 3 tries")
        assert job["result"]["generated_text"].startswith("Once")
        assert job["started_at"] == started_at, "the outcome was lost and the job ran again"
        assert datetime.fromisoformat(job["finished_at"]) < restarted_at, (
            "the job did not end while Redis was down"
        )
        # the same worker reconnected to the broker and takes new jobs
        short = {"type": "generate", "input": {"model": "bigram", "start_word": "the", "length": 3}}
        assert wait_for_job(api, api.post("/jobs", json=short).json()["job_id"], 25)["status"] == "succeeded"
        assert fresh.processes["inference"].popen.poll() is None


@pytest.fixture
def strict_limit(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    env = base_env(model_dir)
    env.update(INFERENCE_TIME_LIMIT="1", PRELOAD_MODELS="llm")
    with Platform(tmp_path, env) as running:
        running.start_serving()
        yield running


def test_a_job_past_the_time_limit_fails_with_a_message_that_names_the_limit(strict_limit: Platform) -> None:
    long_generation = {"start_word": "Once", "length": 256, "seed": 1}
    with strict_limit.client() as api:
        waited = api.post("/generate_with_llm", json=long_generation)
        assert waited.status_code == 504, waited.text
        assert "INFERENCE_TIME_LIMIT=1 s" in waited.json()["detail"]

        job_id = api.post("/jobs", json={"type": "generate", "input": {"model": "llm", **long_generation}})
        job = wait_for_job(api, job_id.json()["job_id"], timeout=60)
        assert job["status"] == "failed", json.dumps(job)
        assert job["error"]["type"] == "InferenceTimeLimitError"
        assert "INFERENCE_TIME_LIMIT=1 s" in job["error"]["message"]
