"""Fine-tuning as a job: progress, hot reload without restart, cancel, a stopped or killed trainer.

The platform gets a model store of its own whose versions link to the test store's, so the
versions these tests publish never leak into other tests.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from launcher.local_platform import Platform, base_env
from shared.celery_app import create_celery_app
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from tests.conftest import wait_for_job

SMALL_RUN = {"max_steps": 3, "batch_size": 1, "eval_questions": 2, "max_seq_len": 128, "learning_rate": 1e-5}


@pytest.fixture
def trainer_platform(model_dir: Path, tmp_path: Path) -> Iterator[Platform]:
    source, linked = ModelStore(model_dir), tmp_path / "models"
    for name in ModelName:
        served = source.served_version(name)
        assert served is not None
        (linked / name.value).mkdir(parents=True)
        (linked / name.value / served.version).symlink_to(served.path, target_is_directory=True)
    env = base_env(linked)
    env["PRELOAD_MODELS"] = "llm,bigram"
    with Platform(tmp_path, env) as running:
        running.start_redis()
        running.start_api()
        running.start_inference_worker()
        running.start_training_worker()
        running.wait_ready()
        yield running


def llm_versions(api: httpx.Client) -> list[str]:
    return [v["version"] for v in api.get("/models/llm").json()["versions"]]


def wait_for_progress(api: httpx.Client, job_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] == "running" and job["progress"] and job["progress"].get("step", 0) >= 1:
            return job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.2)
    raise AssertionError("no training progress")


def test_finetune_reports_progress_and_is_served_without_restart(trainer_platform: Platform) -> None:
    with trainer_platform.client(timeout=300) as api:
        before = llm_versions(api)
        api.post("/generate_with_llm", json={"start_word": "Hi", "length": 2})
        job_id = api.post("/jobs", json={"type": "finetune", "input": SMALL_RUN}).json()["job_id"]

        running = wait_for_progress(api, job_id)
        assert {"step", "total_steps", "loss", "tokens_per_s", "eta_s"} <= set(running["progress"])
        assert running["progress"]["total_steps"] == 3
        during = api.post("/generate_text", json={"start_word": "the", "length": 3})
        assert during.status_code == 200, "inference must not wait for training"

        job = wait_for_job(api, job_id, timeout=600)
        assert job["status"] == "succeeded", job
        new_version = job["result"]["version"]
        assert {"exact_match", "f1", "eval_loss", "train_tokens_per_s"} <= set(job["result"]["metrics"])
        assert llm_versions(api) == [*before, new_version]
        assert api.get("/models/llm").json()["served_version"] == new_version

        # the first job after it waits up to 3 s for the worker to load it; the version in memory
        # answers until then
        served_by: list[str] = []
        deadline = time.monotonic() + 60
        while not served_by or (served_by[-1] != new_version and time.monotonic() < deadline):
            job_input = {"model": "llm", "start_word": "Q", "length": 2}
            generated = api.post("/jobs", json={"type": "generate", "input": job_input})
            served_by.append(wait_for_job(api, generated.json()["job_id"])["result"]["model_version"])
        assert served_by[-1] == new_version
        assert set(served_by) <= {before[-1], new_version}
        deadline = time.monotonic() + 15  # heartbeats refresh every 2 s
        while time.monotonic() < deadline:
            llm = api.get("/workers").json()["inference"][0]["models"]["llm"]
            if llm["version"] == new_version:
                break
            time.sleep(0.5)
        assert llm["version"] == new_version
        assert llm["loads"] == 2


def long_run_under_way(api: httpx.Client) -> str:
    """A fine-tune of 500 steps, once it is training: its job id."""
    job_id = api.post("/jobs", json={"type": "finetune", "input": {**SMALL_RUN, "max_steps": 500}}).json()[
        "job_id"
    ]
    wait_for_progress(api, job_id)
    return job_id


def assert_nothing_published(api: httpx.Client, store: ModelStore, versions_before: list[str]) -> None:
    assert llm_versions(api) == versions_before
    assert not list(store.model_dir(ModelName.LLM).glob(".*.partial"))  # nor left half-written


@pytest.mark.parametrize("cancel_by", ["DELETE", "celery control revoke"])
def test_cancel_stops_training_at_the_next_step_and_publishes_nothing(
    trainer_platform: Platform, cancel_by: str
) -> None:
    """A revoke through Celery (Flower's Revoke button) did not reach a running fine-tune: Celery
    only drops a revoked message it has not started, and the run went on to publish."""
    with trainer_platform.client(timeout=300) as api:
        before = llm_versions(api)
        job_id = long_run_under_way(api)
        if cancel_by == "DELETE":
            response = api.delete(f"/jobs/{job_id}")
            assert response.status_code == 202
            assert response.json()["cancel_requested"] is True
        else:
            create_celery_app(None, trainer_platform.settings()).control.revoke(job_id)
        job = wait_for_job(api, job_id, timeout=120)
        assert job["status"] == "cancelled", job
        assert job["progress"]["step"] < 500
        assert llm_versions(api) == before


def test_killed_training_worker_fails_the_job_and_leaves_the_store_alone(trainer_platform: Platform) -> None:
    store = ModelStore(Path(trainer_platform.env["MODEL_DIR"]))
    with trainer_platform.client(timeout=300) as api:
        before = llm_versions(api)
        job_id = long_run_under_way(api)
        trainer_platform.processes["training"].kill()
        trainer_platform.start_training_worker()
        job = wait_for_job(api, job_id, timeout=120)
        assert job["status"] == "failed", job
        assert job["error"]["type"] == "WorkerLost"
        assert "no model version was published" in job["error"]["message"]
        assert_nothing_published(api, store, before)


def test_stopped_training_worker_ends_its_run_failed_at_the_next_step(trainer_platform: Platform) -> None:
    """A stop (SIGTERM to the worker's main process, as compose's `stop` sends) made Celery wait
    for the run, minutes or hours: the stop's grace ran out, the worker was killed, and the job
    stayed running until a training worker started again."""
    store = ModelStore(Path(trainer_platform.env["MODEL_DIR"]))
    trainer = trainer_platform.processes["training"]
    with trainer_platform.client(timeout=300) as api:
        before = llm_versions(api)
        job_id = long_run_under_way(api)
        os.kill(trainer.pid, signal.SIGTERM)
        job = wait_for_job(api, job_id, timeout=60)  # no training worker starts again
        assert job["status"] == "failed", job
        assert job["error"]["type"] == "WorkerStoppedError"
        assert "no model version was published" in job["error"]["message"]
        assert job["progress"]["step"] < 500
        assert trainer.popen is not None
        assert trainer.popen.wait(timeout=60) == 0  # it stopped of itself, its run ended
        assert_nothing_published(api, store, before)
