"""Prometheus metrics of the API and of the inference worker."""

from __future__ import annotations

import re

import httpx

from launcher.local_platform import Platform
from tests.conftest import wait_for_job


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (labels in any order)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{labels}")


def test_api_metrics_count_requests_jobs_and_timings(api: httpx.Client) -> None:
    before = api.get("/metrics").text
    done_before = sample(before, "jobs_total", type="generate", event="succeeded")
    job_id = api.post(
        "/jobs", json={"type": "generate", "input": {"model": "bigram", "start_word": "a", "length": 2}}
    )
    assert wait_for_job(api, job_id.json()["job_id"])["status"] == "succeeded"

    after = api.get("/metrics").text
    assert sample(after, "jobs_total", type="generate", event="succeeded") == done_before + 1
    assert sample(after, "jobs_total", type="generate", event="submitted") >= done_before + 1
    assert sample(after, "queue_depth", queue="inference") >= 0
    assert sample(after, "job_run_time_seconds_count", type="generate") >= 1
    assert sample(after, "job_queue_wait_seconds_count", type="generate") >= 1
    assert sample(after, "http_requests_total", method="POST", route="/jobs", status="202") >= 1
    assert sample(after, "http_request_duration_seconds_count", method="GET", route="/jobs/{job_id}") >= 1


def test_made_up_methods_share_one_label(api: httpx.Client) -> None:
    """Each method a client made up was a new series Prometheus keeps for ever: 20,000 of them
    took the API from 70 to 178 MB, with no API key needed (401s are counted too)."""
    for method in ("FOOA", "FOOB", "FOOC"):
        api.request(method, "/jobs")
    text = api.get("/metrics").text
    assert "FOO" not in text
    assert sample(text, "http_requests_total", method="OTHER", route="/jobs", status="405") >= 3


def test_inference_worker_serves_its_own_metrics(platform: Platform, api: httpx.Client) -> None:
    api.post("/generate_text", json={"start_word": "a", "length": 3})
    port = platform.metrics_ports["inference"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert sample(text, "worker_batch_size_count", model="bigram") >= 1
    assert sample(text, "worker_model_loads_total", model="bigram") == 1
    assert sample(text, "worker_model_load_seconds", model="bigram") > 0
    assert sample(text, "worker_generated_tokens_total", model="bigram") >= 3


def test_the_workers_token_count_is_of_tokens_generated_not_asked_for(
    platform: Platform, api: httpx.Client
) -> None:
    """A row that stopped at its end token counted its whole length."""
    port = platform.metrics_ports["inference"]

    def llm_tokens() -> float:
        return sample(
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text,
            "worker_generated_tokens_total",
            model="llm",
        )

    def generate(start_word: str, length: int) -> dict:
        payload = {"model": "llm", "start_word": start_word, "length": length, "seed": 1}
        job_id = api.post("/jobs", json={"type": "generate", "input": payload}).json()["job_id"]
        job = wait_for_job(api, job_id)
        assert job["status"] == "succeeded", job
        return job["result"]

    assert generate("Once", 3)["generated_tokens"] == 3
    before = llm_tokens()
    stopped = generate("What is 2+2?", 48)  # the instruct model ends its answer at once
    assert stopped["generated_tokens"] < 48, stopped
    assert llm_tokens() - before == stopped["generated_tokens"]
