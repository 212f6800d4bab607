"""The worker's Prometheus histograms cover what the settings allow."""

from __future__ import annotations

from annotated_types import Le

from shared.config import Settings
from worker.metrics import BATCH_SECONDS_BUCKETS, BATCH_SIZE_BUCKETS


def ceiling(name: str) -> int:
    return next(rule.le for rule in Settings.model_fields[name].metadata if isinstance(rule, Le))


def test_batch_sizes_up_to_the_largest_batch_allowed_have_a_bucket() -> None:
    assert BATCH_SIZE_BUCKETS[-1] >= ceiling("max_batch_size")  # it ended at 128 of 256


def test_batch_times_past_the_default_time_limit_have_buckets() -> None:
    """They ended at 10 s, the default buckets': LLM batches on a CPU land past it, all in +Inf."""
    assert BATCH_SECONDS_BUCKETS[-1] >= 2 * Settings.model_fields["inference_time_limit"].default
