"""A platform of a benchmark's own: Redis, the API and one inference worker on free local ports."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from launcher.local_platform import Platform, base_env


@contextmanager
def inference_platform(
    model_dir: Path, name: str, *, append_only: bool = False, **settings: str
) -> Iterator[Platform]:
    """Started and ready (a live inference worker), stopped when the block ends; ``settings`` are
    environment variables for every process (``PRELOAD_MODELS="bigram"``)."""
    env = {**base_env(model_dir), **settings}
    platform = Platform(Path(tempfile.mkdtemp(prefix=f"bench-{name}-")), env)
    try:
        platform.start_redis(append_only=append_only)
        platform.start_api()
        platform.start_inference_worker()
        platform.wait_ready_for("inference")
        yield platform
    finally:
        platform.stop()
