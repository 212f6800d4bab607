"""The asynchronous job API against real processes: submit, poll, long-poll, list, idempotency."""

from __future__ import annotations

import httpx

from launcher.local_platform import Platform
from shared.job_store import JobStore, events_key, job_key
from tests.conftest import wait_for_job

EXAMPLE = "I'm enrolled in Operating Systems and Advanced Mathematics this term"


def test_submit_then_poll_until_succeeded(api: httpx.Client) -> None:
    response = api.post("/jobs", json={"type": "extract-course-names", "input": {"text": EXAMPLE}})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert response.headers["Location"] == accepted["url"]
    assert accepted["url"].endswith(f"/jobs/{accepted['job_id']}")

    job = wait_for_job(api, accepted["job_id"])
    assert job["status"] == "succeeded", job
    assert job["type"] == "extract-course-names"
    assert job["result"]["extracted_course_names"] == ["Operating Systems", "Advanced Mathematics"]
    assert job["error"] is None
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]


def test_generate_job_for_every_generator(api: httpx.Client) -> None:
    for model in ("bigram", "rnn", "llm"):
        payload = {"type": "generate", "input": {"model": model, "start_word": "The", "length": 5, "seed": 1}}
        job_id = api.post("/jobs", json=payload).json()["job_id"]
        job = wait_for_job(api, job_id)
        assert job["status"] == "succeeded", job
        assert job["result"]["generated_text"].startswith("The"), job
        assert job["result"]["model"] == model


def test_unknown_job_is_404(api: httpx.Client) -> None:
    response = api.get("/jobs/does-not-exist")
    assert response.status_code == 404
    assert "does-not-exist" in response.json()["detail"]


def test_idempotency_key_returns_the_same_job(api: httpx.Client) -> None:
    payload = {"type": "extract-course-names", "input": {"text": "Introduction to Artificial Intelligence"}}
    headers = {"Idempotency-Key": "retry-safe-42"}
    first = api.post("/jobs", json=payload, headers=headers).json()
    second = api.post("/jobs", json=payload, headers=headers).json()
    assert first["job_id"] == second["job_id"]
    other = api.post("/jobs", json=payload).json()
    assert other["job_id"] != first["job_id"]

    changed = {"type": "extract-course-names", "input": {"text": "something else"}}
    conflict = api.post("/jobs", json=changed, headers=headers)
    assert conflict.status_code == 409
    assert "Idempotency-Key" in conflict.json()["detail"]


def test_an_idempotency_key_whose_job_has_expired_runs_the_request_anew(
    api: httpx.Client, platform: Platform
) -> None:
    """The key is kept as long as its job could wait in the queue, so it may outlive the job's
    record: a retry then answered 409 for days."""
    payload = {"type": "extract-course-names", "input": {"text": "Introduction to Artificial Intelligence"}}
    headers = {"Idempotency-Key": "outlives-its-job-7"}
    first = api.post("/jobs", json=payload, headers=headers).json()["job_id"]
    wait_for_job(api, first)
    redis = JobStore.from_url(platform.redis_url, ttl=600).client
    redis.delete(job_key(first), events_key(first))  # as when its record expires
    again = api.post("/jobs", json=payload, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["job_id"] != first
    assert api.post("/jobs", json=payload, headers=headers).json()["job_id"] == again.json()["job_id"]


def test_list_jobs_newest_first_filtered_and_paginated(api: httpx.Client) -> None:
    ids = []
    for word in ("alpha", "beta", "gamma"):
        payload = {"type": "generate", "input": {"model": "bigram", "start_word": word, "length": 2}}
        ids.append(api.post("/jobs", json=payload).json()["job_id"])
    for job_id in ids:
        wait_for_job(api, job_id)

    page = api.get("/jobs", params={"type": "generate", "status": "succeeded", "limit": 2}).json()
    assert [job["job_id"] for job in page["jobs"]] == ids[::-1][:2]
    assert page["next_offset"] == 2
    following = api.get("/jobs", params={"type": "generate", "limit": 2, "offset": 2}).json()
    assert following["jobs"][0]["job_id"] == ids[0]
    assert all(job["type"] == "generate" for job in page["jobs"] + following["jobs"])
    by_cursor = api.get(
        "/jobs", params={"type": "generate", "limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert by_cursor["jobs"][0]["job_id"] == ids[0]

    assert api.get("/jobs", params={"status": "nonsense"}).status_code == 422
    for params in ({"cursor": "page-2"}, {"cursor": page["next_cursor"], "offset": 2}):
        refused = api.get("/jobs", params=params)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_second_job_reuses_the_loaded_model(api: httpx.Client) -> None:
    for _ in range(3):
        job_id = api.post("/jobs", json={"type": "extract-course-names", "input": {"text": EXAMPLE}}).json()[
            "job_id"
        ]
        assert wait_for_job(api, job_id)["status"] == "succeeded"
    workers = api.get("/workers").json()["inference"]
    assert workers, "no live inference worker"
    loaded = workers[0]["models"]["course-extractor"]
    assert loaded["loads"] == 1, workers
    # the jobs a worker runs are every key's: its heartbeat lists them for the other workers alone
    assert not {"running_jobs", "beat_id"} & set(workers[0]), workers
