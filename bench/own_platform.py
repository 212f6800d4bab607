"""A platform of a benchmark's own: Redis, the API and one inference worker on free local ports."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from launcher.local_platform import Platform, base_env
from shared.model_registry import ModelName
from shared.model_store import ModelStore, missing_version_message


def exit_unless_served(model_dir: Path, models: Iterable[ModelName]) -> None:
    """Exit, saying how to get it, where the store has no version of a model the benchmark needs:
    its platform would only answer 503."""
    store = ModelStore(model_dir)
    for model in models:
        if store.served_version(model) is None:
            raise SystemExit(missing_version_message(model))


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
