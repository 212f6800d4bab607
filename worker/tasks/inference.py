"""Inference tasks: each job's input goes to the batcher, which runs the model on a batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task

from shared.jobs import TaskName
from shared.model_registry import ModelName
from worker.job_task import JobTask
from worker.runtime import WorkerRuntime, get_runtime


def cancel_asker(runtime: WorkerRuntime, job_id: str) -> Callable[[], bool]:
    """Whether the job's user has cancelled it; while Redis cannot say, the job goes on."""
    return lambda: runtime.job_store.cancel_requested_now(job_id)


@shared_task(name=TaskName.EXTRACT_COURSE_NAMES.value, base=JobTask, bind=True)
def extract_course_names(self: JobTask, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    runtime = get_runtime()
    return runtime.predict(
        ModelName.COURSE_EXTRACTOR, {"text": payload["text"]}, cancelled=cancel_asker(runtime, job_id)
    )


@shared_task(name=TaskName.GENERATE.value, base=JobTask, bind=True)
def generate(self: JobTask, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    runtime = get_runtime()
    model = ModelName(payload["model"])
    params = {key: value for key, value in payload.items() if key not in ("model", "stream")}
    on_token = None
    if payload.get("stream"):

        def on_token(piece: str) -> None:
            runtime.job_store.add_event(job_id, {"type": "token", "text": piece})

    return runtime.predict(model, params, on_token, cancelled=cancel_asker(runtime, job_id))
