"""``python -m worker.healthcheck inference|training``: exit 0 while this host's worker of that
queue heartbeats, else 1. Compose's health check of the worker containers: a worker whose process
hangs or lost Redis stops beating, and one whose batch has hung says so in its beat (a forward pass
that never returns); its container shows unhealthy instead of running.

Reads only the heartbeat (no Celery, no torch), so it takes a fraction of a second.
"""

from __future__ import annotations

import json
import socket
import sys

import redis

from shared.config import get_settings
from shared.job_store import heartbeat_key
from shared.jobs import Queue


def beating(queue: Queue, hostname: str, redis_url: str) -> bool:
    """Whether the worker ``<queue>@<hostname>`` has a heartbeat that has not expired and says no
    batch of it is hung (its heartbeat thread beats on while a forward pass never returns)."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        beat = client.get(heartbeat_key(queue, f"{queue.value}@{hostname}"))
    except redis.RedisError:
        return False
    finally:
        client.close()
    if beat is None:
        return False
    stuck = json.loads(beat).get("stuck_batches")
    if stuck:
        print(f"a batch has run for longer than it may: {stuck} (seconds, by model)", file=sys.stderr)
    return not stuck


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in {queue.value for queue in Queue}:
        print("usage: python -m worker.healthcheck inference|training", file=sys.stderr)
        return 2
    return 0 if beating(Queue(argv[0]), socket.gethostname(), get_settings().redis_url) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
