"""The broker options each worker role gets, as kombu's Redis channel reads them."""

from __future__ import annotations

from shared.celery_app import create_celery_app
from shared.config import Settings
from shared.jobs import Queue


def test_a_lost_inference_job_is_looked_for_every_few_seconds(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, inference_visibility_timeout=10, inference_time_limit=8)
    app = create_celery_app(Queue.INFERENCE, settings)
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        assert channel.visibility_timeout == 10
        # kombu scans on every `throttle`-th sweep: the product is the real period between scans.
        assert channel.unacked_restore_interval * channel.unacked_restore_throttle <= 5
        # A worker killed mid-scan must not block the other workers' scans for long.
        assert channel.unacked_mutex_expire <= settings.inference_visibility_timeout


def test_training_jobs_keep_their_own_long_redelivery_bookkeeping(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, training_time_limit=3600)
    app = create_celery_app(Queue.TRAINING, settings)
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        assert channel.visibility_timeout > 3600
        assert channel.unacked_key == "unacked_training"
        assert channel.unacked_mutex_key == "unacked_mutex_training"
    # each fine-tune in a fresh process, which gives back all its memory when the run ends
    assert app.conf.worker_max_tasks_per_child == 1
    assert create_celery_app(Queue.INFERENCE, settings).conf.worker_max_tasks_per_child is None
