"""The model registry, the versions in the model store, and which of them the workers serve."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import JobStoreDep, SettingsDep
from api.errors import NotFoundError, documented
from shared.job_store import model_reports
from shared.jobs import Queue
from shared.model_registry import REGISTRY, ModelName
from shared.model_store import ModelStore
from shared.schemas import ModelVersionView, ModelView

router = APIRouter(prefix="/models", tags=["models"])

WorkerReports = dict[ModelName, list[dict[str, Any]]]


def served_version(newest: str | None, reports: list[dict[str, Any]]) -> str | None:
    """The version that answers requests: the newest in the store, unless every live inference
    worker holding the model failed to load it or is loading it still; then the newest one they
    hold instead, or none when they hold nothing (its jobs fail, naming the version). After a
    rollback (the newest version's folder removed) the one they hold is newer than the store's
    newest, and answers until the older one is loaded."""
    if newest is None or not reports:
        return newest
    if any(newest not in (report.get("failed_version"), report.get("loading_version")) for report in reports):
        return newest
    held = [report["version"] for report in reports if report.get("version")]
    return max(held, default=None)


async def _worker_reports(job_store: JobStoreDep) -> WorkerReports:
    """What each live inference worker's heartbeat says of each model it holds or failed to load."""
    workers = await job_store.live_workers(Queue.INFERENCE)
    return {name: model_reports(workers, name.value) for name in ModelName}


def without_host_paths(value: Any) -> Any:
    """``value`` (a version's metadata) with each absolute path cut to its last part: a CORPUS_FILE
    outside DATA_DIR and a base imported from a directory are recorded whole, and every API key
    reads GET /models (the worker's host paths are the operator's, as its logs are)."""
    if isinstance(value, dict):
        return {key: without_host_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_host_paths(item) for item in value]
    if isinstance(value, str) and value.startswith(("/", "~")) and "\n" not in value:
        return f".../{PurePosixPath(value).name}"
    return value


def model_view(store: ModelStore, name: ModelName, reports: list[dict[str, Any]]) -> ModelView:
    spec = REGISTRY[name]
    versions = store.versions(name)
    return ModelView(
        name=name,
        task=spec.task.value,
        base=spec.base,
        training=spec.training,
        served_version=served_version(versions[-1].version if versions else None, reports),
        loaded_by_workers=dict(Counter(r["version"] for r in reports if r.get("version"))),
        failed_to_load=dict(Counter(r["failed_version"] for r in reports if r.get("failed_version"))),
        loading_in_workers=dict(Counter(r["loading_version"] for r in reports if r.get("loading_version"))),
        versions=[
            ModelVersionView(version=v.version, metadata=without_host_paths(v.metadata)) for v in versions
        ],
    )


# Every version's metadata is read from disk (a network-mounted MODEL_DIR) in the thread pool, so
# that it never holds up the event loop's other requests.
@router.get("", response_model=list[ModelView])
async def list_models(settings: SettingsDep, job_store: JobStoreDep) -> list[ModelView]:
    """Every model the platform serves, with its versions and which one the workers serve."""
    reports = await _worker_reports(job_store)
    store = ModelStore(settings.model_dir)
    return await run_in_threadpool(lambda: [model_view(store, name, reports[name]) for name in ModelName])


@router.get("/{name}", response_model=ModelView, responses=documented(404))
async def get_model(name: str, settings: SettingsDep, job_store: JobStoreDep) -> ModelView:
    if name not in {m.value for m in ModelName}:
        raise NotFoundError(f"no model {name!r}; known: {[m.value for m in ModelName]}")
    model = ModelName(name)
    reports = await _worker_reports(job_store)
    return await run_in_threadpool(model_view, ModelStore(settings.model_dir), model, reports[model])
