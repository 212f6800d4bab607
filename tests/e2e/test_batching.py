"""Batching through the real inference worker: jobs waiting in the queue run in batched forward
passes, and each job gets the answer it would have got alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from launcher.local_platform import Platform, base_env
from tests.conftest import wait_for_job
from tests.e2e.test_metrics import sample

GENERATIONS = [
    {"model": "llm", "start_word": word, "length": length, "seed": seed}
    for word, length, seed in [
        ("Once", 6, 1),
        ("The history of", 9, 2),
        ("Students", 4, 3),
        ("In the morning the", 7, 4),
        ("Why", 5, 5),
        ("A very long time ago, in a small town by the sea,", 8, 6),
    ]
]
TEXTS = [
    "I'm enrolled in Operating Systems and Advanced Mathematics this term",
    "Introduction to Artificial Intelligence",
    "The cafeteria opens at noon.",
    "Has anyone taken Organic Chemistry with Dr. Patel? I'm thinking of dropping Linear Algebra.",
    "my advisor wants me in Data Structures, Discrete Mathematics and Computer Networks next fall",
    "We met in the library after the seminar.",
]


@pytest.fixture
def queued_first(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    """Redis and the API: the jobs wait in the queue until the test starts the worker. Its batch
    wait is long enough that the jobs it takes at start meet in batches on a busy machine."""
    env = base_env(model_dir)
    env.update(PRELOAD_MODELS="llm,course-extractor", BATCH_WAIT_MS="300")
    with Platform(tmp_path, env) as running:
        running.start_redis()
        running.start_api()
        yield running


def batched_passes(metrics: str, model: str) -> float:
    """Forward passes of ``model`` that held more than one input."""
    every = sample(metrics, "worker_batch_size_count", model=model)
    return every - sample(metrics, "worker_batch_size_bucket", model=model, le="1.0")


def test_queued_jobs_run_in_batches_and_each_gets_the_answer_it_gets_alone(queued_first: Platform) -> None:
    """The batching was tested with stand-in models only: a worker that ran one job at a time, or
    a batch whose padding leaked into another row's answer, passed every end-to-end test."""
    jobs = [{"type": "generate", "input": payload} for payload in GENERATIONS]
    jobs += [{"type": "extract-course-names", "input": {"text": text}} for text in TEXTS]
    with queued_first.client() as api:
        job_ids = []
        for job in jobs:
            accepted = api.post("/jobs", json=job)
            assert accepted.status_code == 202, accepted.text
            job_ids.append(accepted.json()["job_id"])
        queued_first.start_inference_worker()
        results = []
        for job_id in job_ids:
            done = wait_for_job(api, job_id, timeout=300)
            assert done["status"] == "succeeded", done
            results.append(done["result"])

        port = queued_first.metrics_ports["inference"]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert batched_passes(metrics, "llm") >= 1, "no generation shared a forward pass"
        assert batched_passes(metrics, "course-extractor") >= 1, "no extraction shared a forward pass"

        # now one at a time: each request waits for its answer before the next is sent
        for payload, batched in zip(GENERATIONS, results, strict=False):
            alone = api.post("/generate_with_llm", json={k: v for k, v in payload.items() if k != "model"})
            assert alone.status_code == 200, alone.text
            assert alone.json()["generated_text"] == batched["generated_text"], payload
        for text, batched in zip(TEXTS, results[len(GENERATIONS) :], strict=True):
            alone = api.post("/extract-course-name/", json={"text": text})
            assert alone.status_code == 200, alone.text
            assert alone.json()["extracted_course_names"] == batched["extracted_course_names"], text
        assert results[len(GENERATIONS)]["extracted_course_names"] == [
            "Operating Systems",
            "Advanced Mathematics",
        ]
        assert results[len(GENERATIONS) + 2]["extracted_course_names"] == []
