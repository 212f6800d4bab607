"""Progress bars the model libraries draw on their own, kept out of a worker's log."""

from __future__ import annotations


def silence_library_progress_bars() -> None:
    """transformers draws a "Loading weights" bar for every model it loads, and huggingface_hub one
    for every download. In a worker, stderr goes to Celery's log, one WARNING line per redraw; the
    model cache logs each load with its time instead."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as transformers_logging

    disable_progress_bars()
    transformers_logging.disable_progress_bar()
