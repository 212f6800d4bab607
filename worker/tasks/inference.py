"""Inference tasks: each job's input goes to the batcher, which runs the model on a batch."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from shared.jobs import TaskName
from shared.model_registry import ModelName
from worker.job_task import JobTask
from worker.runtime import get_runtime


@shared_task(name=TaskName.EXTRACT_COURSE_NAMES.value, base=JobTask, bind=True)
def extract_course_names(self: JobTask, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return get_runtime().predict(ModelName.COURSE_EXTRACTOR, {"text": payload["text"]})


@shared_task(name=TaskName.GENERATE.value, base=JobTask, bind=True)
def generate(self: JobTask, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    runtime = get_runtime()
    model = ModelName(payload["model"])
    params = {key: value for key, value in payload.items() if key not in ("model", "stream")}
    on_token = None
    if payload.get("stream"):

        def on_token(piece: str) -> None:
            runtime.job_store.add_event(job_id, {"type": "token", "text": piece})

    return runtime.predict(model, params, on_token)
