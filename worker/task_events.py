"""Task events sent one by one, under the dispatcher's lock, from the inference worker's threads.

Celery buffers task events where the consumer has an event loop, and flushes the buffer from that
loop: its ``flush`` publishes a group's list, then empties it, while the pool's threads go on
appending to it without the lock. An event appended in between is lost, and Flower shows that
task RECEIVED or STARTED for good (25 of 200 tasks of one burst of requests).
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps


class UnbufferedTaskEvents(bootsteps.StartStopStep):
    """After Celery's ``Events`` step makes the dispatcher (at each consumer start): no buffering."""

    requires = ("celery.worker.consumer.events:Events",)

    def start(self, c: Any) -> None:
        dispatcher = c.event_dispatcher
        if dispatcher is None:
            return
        dispatcher.flush(errors=False)  # what was buffered before this step
        dispatcher.buffer_group = frozenset()
        dispatcher.on_send_buffered = None
