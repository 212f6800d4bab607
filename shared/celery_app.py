"""The Celery application: broker and result backend on Redis, JSON only.

The API imports this module only to publish tasks by name; it never imports the worker's tasks
(and so never torch). Each worker role builds its app with ``create_celery_app(role)``, which
gives the role its own unacknowledged-message bookkeeping in Redis: an inference job lost with
its worker is delivered again after a short visibility timeout, while a training job, which may
run for hours, has a timeout longer than the longest allowed run.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue as KombuQueue

from shared.config import Settings, get_settings
from shared.jobs import JOB_ROUTES, Queue

UNACKED_RESTORE_INTERVAL_SECONDS = 5
UNACKED_MUTEX_EXPIRE_SECONDS = 10
# The API's publishes give up on a Redis that stops answering after this long a try (three tries:
# the retry policy's two more), and the request gets its 503; with no bound one waited as long as
# Redis stalled, holding its wait slot and one of the API's threads.
PUBLISH_SOCKET_TIMEOUT_S = 5


def transport_options(settings: Settings, role: Queue | None) -> dict[str, Any]:
    options: dict[str, Any] = {"socket_connect_timeout": 3}
    if role is None:
        options["socket_timeout"] = PUBLISH_SOCKET_TIMEOUT_S
    if role is Queue.TRAINING:
        options.update(
            visibility_timeout=settings.training_time_limit + 600,
            unacked_key="unacked_training",
            unacked_index_key="unacked_index_training",
            unacked_mutex_key="unacked_mutex_training",
        )
    else:
        options.update(
            visibility_timeout=settings.inference_visibility_timeout,
            # Each worker looks for lost jobs every 5 s. kombu scans only on every
            # ``unacked_restore_throttle``-th look (default 10), so without the 1 a lost job
            # waited up to visibility timeout + 50 s.
            unacked_restore_interval=UNACKED_RESTORE_INTERVAL_SECONDS,
            unacked_restore_throttle=1,
            # A worker killed during a scan holds the scan lock until it expires (default 300 s).
            unacked_mutex_expire=UNACKED_MUTEX_EXPIRE_SECONDS,
        )
    return options


def create_celery_app(role: Queue | None = None, settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("jobqueue", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        event_serializer="json",
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        result_expires=settings.result_ttl,
        result_extended=True,
        task_queues=[KombuQueue(queue.value, routing_key=queue.value) for queue in Queue],
        task_default_queue=Queue.INFERENCE.value,
        task_routes={task.value: {"queue": queue.value} for task, queue in JOB_ROUTES.values()},
        broker_transport_options=transport_options(settings, role),
        result_backend_transport_options={"socket_connect_timeout": 3},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_channel_error_retry=True,
    )
    if role is Queue.TRAINING:
        # A fresh process for each fine-tune: one that ended keeps its memory (on a GPU, PyTorch's
        # cache of the weights, the optimizer state and the activations, which the inference
        # worker on the same card then lacks), and each run starts from the same state.
        app.conf.worker_max_tasks_per_child = 1
    return app


app = create_celery_app()
