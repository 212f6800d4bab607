"""Flower lists the platform's tasks by name and state."""

from __future__ import annotations

import time

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
