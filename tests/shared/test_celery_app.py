"""The broker options each worker role gets, as kombu's Redis channel reads them."""

from __future__ import annotations

import socket
import time

import pytest
from kombu.exceptions import OperationalError

from shared.celery_app import PUBLISH_SOCKET_TIMEOUT_S, create_celery_app
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


def test_the_apis_publish_gives_up_on_a_redis_that_stops_answering() -> None:
    """A publish to a Redis that accepted the connection and then stalled (a long script, a
    stopped process, a partition) waited as long as the stall lasted: the request held its wait
    slot and one of the API's threads, with no 503."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)  # connects, never answers
    port = listener.getsockname()[1]
    app = create_celery_app(None, Settings(redis_url=f"redis://127.0.0.1:{port}/0"))
    started = time.monotonic()
    with pytest.raises(OperationalError, match="Timeout reading"):  # the API answers it 503
        # as api.job_submission publishes: the job's record, not Celery's backend, holds its result
        app.send_task("jobs.generate", args=["x", {}], task_id="x", queue="inference", ignore_result=True)
    # a try and the retry policy's two more, each bounded by the socket's timeout
    assert time.monotonic() - started < 6 * PUBLISH_SOCKET_TIMEOUT_S
    listener.close()
