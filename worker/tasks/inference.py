"""Inference tasks: each job's input goes to the batcher, which runs the model on a batch."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from celery import shared_task

from shared.jobs import TaskName
from shared.model_registry import ModelName
from worker.job_task import JobTask
from worker.runtime import WorkerRuntime, get_runtime
from worker.token_stream import TokenStreamError

# A streamed job's task ends this long before the broker would deliver its message again, should
# its tokens wait that long for Redis: past INFERENCE_VISIBILITY_TIMEOUT, a second worker could
# take the job and stream it twice.
VISIBILITY_MARGIN_S = 2.0


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
    if not payload.get("stream"):
        return runtime.predict(model, params, cancelled=cancel_asker(runtime, job_id))
    streams, cancelled = runtime.token_streams, cancel_asker(runtime, job_id)
    deadline = time.monotonic() + runtime.settings.inference_visibility_timeout - VISIBILITY_MARGIN_S
    try:
        result = runtime.predict(model, params, streams.sender(job_id), cancelled=cancelled)
    except BaseException:
        with suppress(TokenStreamError):  # the tokens made before it stopped, as far as they go
            streams.flush(job_id, timeout=max(0.0, deadline - time.monotonic()))
        raise
    # its tokens are in its stream before the job's final event
    streams.flush(job_id, timeout=max(0.0, deadline - time.monotonic()))
    return result
