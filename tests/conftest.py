"""Shared fixtures: a model store with the real default models, and a running platform."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from launcher.local_platform import Platform, base_env
from shared.config import PROJECT_ROOT, get_settings
from shared.jobs import JobStatus
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from tests.model_fixtures import build_tiny_bert, build_tiny_gpt2, build_tiny_llama
from training import llm_base
from worker.runtime import WorkerRuntime, get_runtime, reset_runtime

TEST_MODEL_DIR = PROJECT_ROOT / "var" / "test-models"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The default models, imported/trained once and kept under var/ between runs (`make test` fills
    the store before pytest starts; run alone, pytest fills it here). The extractor is its preview
    (one model, 2 epochs): the full training's code is tested on a tiny BERT, its scores are
    measured by `python -m training.course_ner.evaluate`."""
    env = base_env(TEST_MODEL_DIR)
    completed = subprocess.run(
        [sys.executable, "-m", "training.bootstrap", "--preview-only"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return TEST_MODEL_DIR


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for tests that need Redis but no platform."""
    with Platform(tmp_path_factory.mktemp("redis"), base_env(TEST_MODEL_DIR)) as running:
        running.start_redis()
        yield running.redis_url


@pytest.fixture
def runtime_with_tiny_llm(
    redis_url: str, tiny_gpt2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[WorkerRuntime]:
    """This process's worker runtime on the test Redis, serving a tiny GPT-2 (a context of 128
    tokens) from a store of its own, preloaded as a worker does at start."""
    store = ModelStore(tmp_path / "models")
    llm_base.import_base(store, tiny_gpt2_dir)
    monkeypatch.setenv("MODEL_DIR", str(store.root))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DEVICE", "cpu")
    get_settings.cache_clear()
    reset_runtime()
    try:
        runtime = get_runtime()
        runtime.models.preload([ModelName.LLM])
        yield runtime
    finally:
        reset_runtime()
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def platform(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Redis, the API, an inference worker, a training worker and Flower, all real processes."""
    with Platform(tmp_path_factory.mktemp("platform"), base_env(model_dir)) as running:
        running.start_redis()
        running.start_api()
        running.start_inference_worker()
        running.start_training_worker()
        running.start_flower()
        running.wait_ready()
        yield running


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client() as client:
        yield client


def wait_for_job(
    client: httpx.Client, job_id: str, timeout: float = 120.0, headers: dict[str, str] | None = None
) -> dict:
    """The job once it is final, or as it stands after ``timeout`` s: long polls in a loop, since the
    API holds one for at most MAX_WAIT (60 s by default)."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(deadline - time.monotonic(), 0.0)
        response = client.get(f"/jobs/{job_id}", params={"wait": left}, headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if JobStatus(job["status"]).is_final or time.monotonic() >= deadline:
            return job
