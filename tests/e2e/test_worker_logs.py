"""What a real inference worker writes to its log while it loads the served models."""

from __future__ import annotations

from launcher.local_platform import Platform


def test_model_loads_log_one_line_each_and_no_progress_bar(platform: Platform) -> None:
    """transformers draws a "Loading weights" bar for each model it loads; Celery used to log every
    redraw of it as a WARNING line. The platform is ready only after the worker preloaded its models."""
    log = platform.processes["inference"].log_path.read_text(errors="replace")
    assert "loaded course-extractor version" in log
    assert "loaded llm version" in log
    assert "Loading weights" not in log
