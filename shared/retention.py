"""Old model versions removed past a kept number, never one a live inference worker holds."""

from __future__ import annotations

import logging
from collections.abc import Collection

import redis

from shared.job_store import JobStore, model_reports
from shared.jobs import Queue
from shared.model_registry import ModelName
from shared.model_store import ModelStore

logger = logging.getLogger(__name__)


def versions_workers_hold(job_store: JobStore, model: ModelName) -> set[str]:
    """The versions of ``model`` the live inference workers have in memory (their heartbeats)."""
    reports = model_reports(job_store.live_workers(Queue.INFERENCE), model.value)
    return {report["version"] for report in reports if report.get("version")}


def remove_versions_past(
    store: ModelStore,
    job_store: JobStore,
    model: ModelName,
    keep: int,
    kinds: Collection[str] | None = None,
) -> list[str]:
    """``ModelStore.remove_old_versions``, sparing what the workers hold; nothing is removed when
    Redis cannot say what that is. Returns the removed ids."""
    try:
        held = versions_workers_hold(job_store, model)
    except redis.RedisError as error:
        logger.warning("old %s versions kept: which ones workers hold is unknown (%s)", model.value, error)
        return []
    removed = store.remove_old_versions(model, keep, spare=held, kinds=kinds)
    if removed:
        logger.info("removed %s versions past the %d kept: %s", model.value, keep, ", ".join(removed))
    return removed
