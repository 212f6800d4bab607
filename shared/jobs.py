"""Names shared by the API and the workers: job types, states, queues and Celery task names."""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    INFERENCE = "inference"
    TRAINING = "training"


class JobType(StrEnum):
    EXTRACT_COURSE_NAMES = "extract-course-names"
    GENERATE = "generate"
    FINETUNE = "finetune"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class TaskName(StrEnum):
    EXTRACT_COURSE_NAMES = "jobs.extract_course_names"
    GENERATE = "jobs.generate"
    FINETUNE = "jobs.finetune"


JOB_ROUTES: dict[JobType, tuple[TaskName, Queue]] = {
    JobType.EXTRACT_COURSE_NAMES: (TaskName.EXTRACT_COURSE_NAMES, Queue.INFERENCE),
    JobType.GENERATE: (TaskName.GENERATE, Queue.INFERENCE),
    JobType.FINETUNE: (TaskName.FINETUNE, Queue.TRAINING),
}
