"""Which models `make run` prepares before the workers start, and which in the background; how it
starts Flower."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from api.stop_signal import DRAIN_S
from launcher import services
from launcher.services import bootstrap_command, split_by_preparation
from launcher.supervisor import STOP_TIMEOUT_S
from shared.config import Settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore


def test_trained_models_are_prepared_in_the_background_in_the_order_given() -> None:
    quick, slow = split_by_preparation(["course-extractor", "bigram", "rnn", "llm"])
    assert quick == ["bigram", "llm"]
    assert slow == ["course-extractor", "rnn"]


def test_the_background_bootstrap_serves_the_extractors_preview_before_anything_else_trains(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Training itself takes minutes: recorders stand in for it, the order is what is checked."""
    from training import bootstrap

    calls: list[str] = []

    def recorder(label: str) -> Callable[[ModelStore], str]:
        return lambda store: calls.append(label) or label

    monkeypatch.setattr(
        bootstrap,
        "_ensurers",
        lambda: {name: recorder(name.value) for name in ModelName},
    )
    monkeypatch.setattr(
        bootstrap,
        "_preview_ensurers",
        lambda within_seconds: {
            ModelName.COURSE_EXTRACTOR: recorder("preview within seconds" if within_seconds else "preview")
        },
    )
    names = [ModelName.COURSE_EXTRACTOR, ModelName.RNN]
    store = ModelStore(tmp_path)
    assert bootstrap_command(["course-extractor", "rnn"], preview_first=True)[-1] == "--preview-first"
    bootstrap.ensure_models(store, names, preview_first=True)
    assert calls == ["preview within seconds", "rnn", "course-extractor"]  # make run: minutes on any CPU
    calls.clear()
    bootstrap.ensure_models(store, names)
    assert calls == ["course-extractor", "rnn"]
    calls.clear()
    assert bootstrap.ensure_models(store, names, preview_only=True) == {
        ModelName.COURSE_EXTRACTOR: "preview",
        ModelName.RNN: "rnn",
    }
    # the test suite's store: no full version trains, and its preview trains all its steps anywhere
    assert calls == ["preview", "rnn"]


def test_flowers_password_is_in_its_environment_not_on_its_command_line() -> None:
    """`make run` passed --basic_auth=user:password, which any local user reads with ps."""
    settings = Settings(flower_basic_auth="admin:s3cret-pw")
    assert not any("s3cret" in part for part in services.flower_command(settings))
    assert services.flower_env(settings) == {"FLOWER_BASIC_AUTH": "admin:s3cret-pw"}


def test_make_runs_flower_login_is_made_once_and_read_by_this_user_alone(tmp_path: Path) -> None:
    login = services.flower_login(tmp_path / "var")
    user, password = login.split(":", 1)
    assert user == "admin" and len(password) >= 20
    password_file = tmp_path / "var" / "flower-password"
    assert password_file.read_text().strip() == password
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert services.flower_login(tmp_path / "var") == login  # kept across starts: a saved login works
    password_file.chmod(0o644)
    services.flower_login(tmp_path / "var")
    assert password_file.stat().st_mode & 0o777 == 0o600


def test_the_api_ends_its_waits_before_uvicorn_cancels_them() -> None:
    """uvicorn answers 500 to what it still holds at --timeout-graceful-shutdown: the waits for jobs
    end before (api.stop_signal), with time to answer, and the launcher's SIGKILL comes after both."""
    assert DRAIN_S + 2 <= services.API_GRACEFUL_SHUTDOWN_S < STOP_TIMEOUT_S


@pytest.mark.parametrize("time_limit", [1, 25, 120])
def test_the_inference_worker_has_longer_to_stop_than_a_job_may_run(time_limit: int) -> None:
    """`make run` killed it 15 s after SIGTERM while its batches ran for up to INFERENCE_TIME_LIMIT
    (25 s by default): their jobs waited for the next start to run again."""
    settings = Settings(inference_time_limit=time_limit, inference_visibility_timeout=time_limit + 100)
    assert services.inference_stop_timeout_s(settings) > time_limit
    assert services.inference_stop_timeout_s(settings) >= STOP_TIMEOUT_S
