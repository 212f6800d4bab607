"""Training tasks: fine-tuning runs on the training queue, one at a time.

Progress goes to the job record (GET /jobs/{id}) and the job's event stream; a cancel
request stops the loop at its next step, and so do TRAINING_TIME_LIMIT and a stop of the training
worker (the job fails: `worker.stopping_jobs`). The
training code publishes a new model version only on success, and inference workers pick it up on
their next request. Once the run starts publishing, a cancel is refused (409): a job never ends
cancelled while its version is served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import shared_task

from shared.client_errors import ClientFacingError
from shared.config import get_settings
from shared.job_store import JobStore
from shared.jobs import JobStatus, TaskName
from shared.model_registry import ModelName
from shared.model_store import ModelVersion
from shared.retention import remove_versions_past
from worker.job_task import JobTask, lost_run_end
from worker.runtime import JobCancelledError, get_runtime

logger = logging.getLogger(__name__)

LOST_MESSAGE = (
    "the training process was lost mid-run (killed or out of memory); no model version was published"
)


class TrainingTimeLimitError(ClientFacingError):
    """The run passed TRAINING_TIME_LIMIT; it stopped at its next check and published nothing."""


class WorkerStoppedError(ClientFacingError):
    """The training worker was stopped while the run went on; it stopped at its next check (before
    a batch, or between two phases) and published nothing."""


WORKER_STOPPED_MESSAGE = (
    "the training worker was stopped (a restart or shutdown of the platform) while the run went on:"
    " the run stopped and no model version was published; submit the fine-tune again"
)


def time_limit_check(limit_s: float, clock: Callable[[], float] = time.monotonic) -> Callable[[], None]:
    """A check for each training step that raises once ``limit_s`` seconds have passed since now."""
    deadline = clock() + limit_s

    def check() -> None:
        if clock() > deadline:
            raise TrainingTimeLimitError(
                f"the run took longer than TRAINING_TIME_LIMIT ({limit_s:.0f} s) and was stopped;"
                " no model version was published"
            )

    return check


def finetune_result(version: ModelVersion) -> dict[str, Any]:
    """A fine-tuning job's result: the version it published and its metrics."""
    return {"model": "llm", "version": version.version, "metrics": version.metadata.get("metrics", {})}


STOPPED_TOO_LATE_MESSAGE = (
    "the training worker was stopped, and killed before the run reached its next batch (the stop's"
    " grace ran out); no model version was published; submit the fine-tune again"
)


def end_lost_finetune(store: JobStore, job_id: str, error: dict[str, Any]) -> None:
    """Record the end of a fine-tune whose process was lost: succeeded where the version it made
    was published before (the process was killed between publishing it and recording that), else
    as any lost run (cancelled where its user asked, failed with ``error``, which says the worker
    was stopped where it had asked the run to stop)."""
    versions = get_runtime().model_store.versions(ModelName.LLM)
    published = next((v for v in reversed(versions) if v.metadata.get("job_id") == job_id), None)
    if published is None:
        cancel_requested, worker_stopping = store.stop_requests(job_id)  # one read for both flags
        if worker_stopping:
            error = {**error, "message": STOPPED_TOO_LATE_MESSAGE}
        status, error = lost_run_end(cancel_requested, error)
        store.finish(job_id, status, error=error)
    else:
        logger.warning(
            "job %s was lost after it published %s: it succeeded",
            job_id,
            published.version,
            extra={"job_id": job_id},
        )
        store.finish(job_id, JobStatus.SUCCEEDED, result=finetune_result(published))


# A copy of a running fine-tune's message is looked at again every 5 minutes at the most
COPY_DEFER_MAX_S = 300


class FinetuneTask(JobTask):
    abstract = True
    run_again_when_redelivered = False
    lost_message = LOST_MESSAGE

    def end_lost_run(self, store: JobStore, job_id: str, error: dict[str, Any]) -> None:
        end_lost_finetune(store, job_id, error)

    def copy_defer_max_s(self) -> float:
        return COPY_DEFER_MAX_S  # the training queue's visibility timeout is TRAINING_TIME_LIMIT + 600


# Celery's hard time limit is only a backstop for a step that never returns: the loop stops
# itself at TRAINING_TIME_LIMIT, and the broker delivers a lost job again only after both.
@shared_task(
    name=TaskName.FINETUNE.value,
    base=FinetuneTask,
    bind=True,
    reject_on_worker_lost=False,
    time_limit=get_settings().training_time_limit + 300,
)
def finetune(self: JobTask, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    from training.squad import FinetuneConfig, TrainingCancelled
    from training.squad import finetune as run_finetune

    runtime = get_runtime()
    store = runtime.job_store
    check_time_limit = time_limit_check(runtime.settings.training_time_limit)

    def report(progress: dict[str, Any]) -> None:
        # Not as a Celery state or event too: Flower shows neither's fields, and a custom state
        # outranks REVOKED there, so a cancelled or revoked fine-tune showed PROGRESS for good.
        store.set_progress(job_id, progress)

    def should_stop() -> bool:
        check_time_limit()
        cancel, worker_stopping = store.stop_requests(job_id)
        if worker_stopping and not cancel:
            raise WorkerStoppedError(WORKER_STOPPED_MESSAGE)
        return cancel

    options = {key: value for key, value in payload.items() if key not in ("model",)}
    # evaluation batches held to MAX_FINETUNE_BATCH_TOKENS as the training batches are: 16 rows of
    # max_seq_len 2048 took 8 GB, and failed the run after all its steps
    max_seq_len = options.get("max_seq_len", FinetuneConfig.max_seq_len)
    token_bound_rows = runtime.settings.max_finetune_batch_tokens // max_seq_len
    options["eval_batch_size"] = max(1, min(FinetuneConfig.eval_batch_size, token_bound_rows))
    config = FinetuneConfig(**options)
    try:
        version = run_finetune(
            runtime.model_store,
            config,
            progress=report,
            should_stop=should_stop,
            commit=lambda: store.commit(job_id),
            job_id=job_id,
        )
    except TrainingCancelled as cancelled:
        raise JobCancelledError(f"{cancelled}; no model version was published") from cancelled
    try:
        keep = runtime.settings.keep_finetuned_versions
        remove_versions_past(runtime.model_store, store, ModelName.LLM, keep, kinds={"finetuned"})
    except OSError:  # the new version is published and served: its job succeeded
        logger.warning("could not remove old fine-tuned llm versions", exc_info=True)
    return finetune_result(version)
