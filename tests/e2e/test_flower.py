"""Flower lists the platform's tasks by name and state."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from launcher.local_platform import Platform
from tests.conftest import wait_for_job


def test_job_submitted_through_the_api_shows_in_flower(platform: Platform, api: httpx.Client) -> None:
    job_id = api.post(
        "/jobs", json={"type": "generate", "input": {"model": "bigram", "start_word": "a", "length": 3}}
    )
    job_id = job_id.json()["job_id"]
    assert wait_for_job(api, job_id)["status"] == "succeeded"

    auth = tuple(platform.env["FLOWER_BASIC_AUTH"].split(":", 1))
    task: dict = {}
    with httpx.Client(base_url=platform.flower_url, auth=auth, timeout=10) as flower:
        assert flower.get("/api/tasks").status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = flower.get(f"/api/task/info/{job_id}")
            if response.status_code == 200:
                task = response.json()
                if task.get("state") == "SUCCESS":
                    break
            time.sleep(0.5)
        assert httpx.get(f"{platform.flower_url}/api/tasks", timeout=10).status_code == 401
        # what compose's health check asks, with no credentials
        health = httpx.get(f"{platform.flower_url}/healthcheck", timeout=10)
        assert health.status_code == 200 and health.text == "OK"
    assert task.get("name") == "jobs.generate", task
    assert task.get("state") == "SUCCESS", task


def test_every_task_of_a_burst_of_requests_shows_its_end_in_flower(
    platform: Platform, api: httpx.Client
) -> None:
    """The inference worker's threads append task events to a buffer that Celery's event loop
    publishes and empties without their lock: of 200 requests answered, 25 stayed RECEIVED or
    STARTED in Flower for good."""
    request = {"type": "generate", "input": {"model": "bigram", "start_word": "the", "length": 3}}
    job_ids = [api.post("/jobs", json=request).json()["job_id"] for _ in range(150)]
    with ThreadPoolExecutor(32) as pool:
        finished = list(pool.map(lambda job_id: wait_for_job(api, job_id)["status"], job_ids))
    assert finished == ["succeeded"] * len(job_ids)

    auth = tuple(platform.env["FLOWER_BASIC_AUTH"].split(":", 1))
    states: dict[str, str] = {}
    with httpx.Client(base_url=platform.flower_url, auth=auth, timeout=30) as flower:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tasks = flower.get("/api/tasks", params={"limit": 100000}).json()
            states = {job_id: tasks.get(job_id, {}).get("state", "unseen") for job_id in job_ids}
            if set(states.values()) == {"SUCCESS"}:
                break
            time.sleep(1)
    stuck = {job_id: state for job_id, state in states.items() if state != "SUCCESS"}
    assert stuck == {}, f"{len(stuck)} of {len(job_ids)} tasks never showed their end"


def running_job(api: httpx.Client, job: dict) -> str:
    job_id = api.post("/jobs", json=job).json()["job_id"]
    deadline = time.monotonic() + 120
    while (status := api.get(f"/jobs/{job_id}").json()["status"]) == "queued":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    assert status == "running", status
    return job_id


def test_a_running_generation_revoked_from_flower_is_cancelled(platform: Platform, api: httpx.Client) -> None:
    """Celery drops only a revoked message it has not started: a running job revoked from Flower
    went on to succeed, and Terminate, which Celery's thread pool cannot do, changed nothing."""
    generation = {
        "type": "generate",
        "input": {"model": "llm", "start_word": "Once", "length": 256, "seed": 1},
    }
    auth = tuple(platform.env["FLOWER_BASIC_AUTH"].split(":", 1))
    with httpx.Client(base_url=platform.flower_url, auth=auth, timeout=30) as flower:
        for terminate in ("false", "true"):
            job_id = running_job(api, generation)
            revoked = flower.post(f"/api/task/revoke/{job_id}", params={"terminate": terminate})
            assert revoked.status_code == 200, revoked.text
            job = wait_for_job(api, job_id)
            assert job["status"] == "cancelled", (terminate, job)
            assert job["result"] is None
            assert flower_state(flower, job_id, "REVOKED") == "REVOKED"
    # Terminate was an ERROR with a traceback in the worker's log: its threads cannot be killed
    assert "does not implement kill_job" not in platform.processes["inference"].log_path.read_text()


def flower_state(flower: httpx.Client, task_id: str, awaited: str) -> str | None:
    """The task's state in Flower once it is ``awaited``, else the last one seen within 30 s."""
    state = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = flower.get(f"/api/task/info/{task_id}")
        state = response.json().get("state") if response.status_code == 200 else None
        if state == awaited:
            break
        time.sleep(0.5)
    return state


def test_a_job_cancelled_through_the_api_shows_revoked_in_flower(
    platform: Platform, api: httpx.Client
) -> None:
    """Its task returned: Flower showed SUCCESS, and the worker's log said it succeeded."""
    generation = {
        "type": "generate",
        "input": {"model": "llm", "start_word": "Once", "length": 256, "seed": 2},
    }
    job_id = running_job(api, generation)
    assert api.delete(f"/jobs/{job_id}").status_code == 202
    assert wait_for_job(api, job_id)["status"] == "cancelled"
    auth = tuple(platform.env["FLOWER_BASIC_AUTH"].split(":", 1))
    with httpx.Client(base_url=platform.flower_url, auth=auth, timeout=30) as flower:
        assert flower_state(flower, job_id, "REVOKED") == "REVOKED"
