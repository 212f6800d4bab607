"""Training tasks: fine-tuning runs on the training queue, one at a time.

Progress goes to the job record (GET /jobs/{id}), the job's event stream and Flower; a cancel
request stops the loop at its next step. The training code publishes a new model version only
on success, and inference workers pick it up on their next request.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from shared.jobs import TaskName
from worker.job_task import JobCancelledError, JobTask
from worker.runtime import get_runtime


@shared_task(name=TaskName.FINETUNE.value, base=JobTask, bind=True, reject_on_worker_lost=False)
def finetune(self: JobTask, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    from training.squad import FinetuneConfig, TrainingCancelled
    from training.squad import finetune as run_finetune

    runtime = get_runtime()
    store = runtime.job_store

    def report(progress: dict[str, Any]) -> None:
        store.set_progress(job_id, progress)
        self.update_state(state="PROGRESS", meta=progress)
        self.send_event("task-progress", **progress)

    def should_stop() -> bool:
        return store.cancel_requested(job_id)

    options = {key: value for key, value in payload.items() if key not in ("model",)}
    config = FinetuneConfig(**options)
    try:
        version = run_finetune(runtime.model_store, config, progress=report, should_stop=should_stop)
    except TrainingCancelled as cancelled:
        raise JobCancelledError(f"stopped at a step boundary: {cancelled}") from cancelled
    return {"model": "llm", "version": version.version, "metrics": version.metadata.get("metrics", {})}
