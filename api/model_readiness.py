"""Refuse a job at once when the model it needs has no version in the store yet.

On a first ``make run`` (or while compose's model-init runs) the slow models are still training;
a job for one of them would only fail in the worker. It gets ``503`` with ``Retry-After`` instead,
before anything is queued, whether the client waits for it or not. Reading the store's
directory names costs microseconds; the workers check again when they run the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.errors import ServiceUnavailableError
from shared.jobs import JobType
from shared.model_registry import ModelName
from shared.model_store import ModelStore, missing_version_message

RETRY_AFTER_SECONDS = 10


def model_needed(job_type: JobType, job_input: dict[str, Any]) -> ModelName:
    if job_type is JobType.EXTRACT_COURSE_NAMES:
        return ModelName.COURSE_EXTRACTOR
    return ModelName(job_input["model"])  # generate: the generator; finetune: the model it starts from


def require_model_ready(model_dir: Path, job_type: JobType, job_input: dict[str, Any]) -> None:
    name = model_needed(job_type, job_input)
    if ModelStore(model_dir).served_version_id(name) is None:
        raise ServiceUnavailableError(
            missing_version_message(name),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
