"""Every setting is documented in the README's Settings table, and nothing there is stale."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.config import PROJECT_ROOT, Settings


def readme_settings() -> set[str]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}


def test_the_readme_lists_every_setting_and_no_other() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    documented = readme_settings()
    assert fields - documented == set(), "settings missing from the README's table"
    assert documented - fields == set(), "the README's table names settings that do not exist"


def test_log_level_is_one_that_both_logging_and_celery_take() -> None:
    from pydantic import ValidationError

    assert Settings(log_level="warning").log_level == "WARNING"
    for unknown in ("warn", "verbose"):
        with pytest.raises(ValidationError, match="DEBUG"):
            Settings(log_level=unknown)


def test_the_platform_the_tests_and_benchmarks_start_ignores_api_keys_in_a_users_dot_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its processes read .env from the project root; keys there made every request they got a 401."""
    from launcher.local_platform import base_env

    (tmp_path / ".env").write_text("API_KEYS=" + "k" * 24 + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("API_KEYS", raising=False)
    assert Settings().api_keys == ["k" * 24]  # as a user's own processes read it
    for key, value in base_env(tmp_path / "models").items():
        monkeypatch.setenv(key, value)
    assert Settings().api_keys == []


def test_folders_given_with_a_tilde_are_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # a .env file or compose passes "~/data" as it is: no shell expands it
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("DATA_DIR", "MODEL_DIR", "VAR_DIR", "CORPUS_FILE"):
        monkeypatch.setenv(name, f"~/{name.lower()}")
    settings = Settings()
    assert settings.data_dir == tmp_path / "data_dir"
    assert settings.model_dir == tmp_path / "model_dir"
    assert settings.var_dir == tmp_path / "var_dir"
    assert settings.corpus_file == tmp_path / "corpus_file"


def test_a_bad_setting_is_reported_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error printed the keys whole (input_value=...) to the console and the containers' logs."""
    from pydantic import ValidationError

    monkeypatch.setenv("API_KEYS", "shortkey,LongSecretKeyNumberTwo1234")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert "at least 16 characters" in str(raised.value)
    assert "LongSecretKeyNumberTwo1234" not in str(raised.value) and "shortkey" not in str(raised.value)


@pytest.mark.parametrize(
    "name",
    [
        "MODEL_DIR",
        "DATA_DIR",
        "VAR_DIR",
        "CORPUS_FILE",
        "MAX_TEXT_CHARS",
        "RESULT_TTL",
        "LOG_LEVEL",
        "FLOWER_BASIC_AUTH",
    ],
)
def test_an_empty_setting_means_its_default(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """`MODEL_DIR=` in a .env file made the working directory the model store; `CORPUS_FILE=` a
    corpus "." that failed to read; `RESULT_TTL=` (compose passes every shared setting, empty where
    .env has `RESULT_TTL=`) stopped every container."""
    monkeypatch.delenv(name, raising=False)  # `make test` sets MODEL_DIR
    default = getattr(Settings(_env_file=None), name.lower())
    monkeypatch.setenv(name, " ")
    assert getattr(Settings(_env_file=None), name.lower()) == default
    assert default != Path(".")


def test_an_empty_list_setting_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRELOAD_MODELS", "")
    monkeypatch.setenv("API_KEYS", "")
    settings = Settings(_env_file=None)
    assert settings.preload_models == [] and settings.api_keys == []


@pytest.mark.parametrize(
    "url", ["localhost:6379", "http://redis:6379/0", "127.0.0.1", "unix:///tmp/redis.sock"]
)
def test_a_redis_url_without_a_redis_scheme_is_refused(url: str) -> None:
    """It was taken, and the API then failed at start with a traceback (unix://, which redis-py
    takes, Celery's transport and result backend do not)."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="REDIS_URL must start with redis://"):
        Settings(redis_url=url)
    for good in (
        "redis://127.0.0.1:6379/0",
        "rediss://user:secret@redis.internal:6380/1",
    ):
        assert Settings(redis_url=good).redis_url == good


def test_an_inference_time_limit_that_outlasts_the_redelivery_timeout_is_refused() -> None:
    """Redis hands an unacknowledged job to another worker after the visibility timeout: a job
    allowed to run longer would run twice."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"INFERENCE_TIME_LIMIT \(60 s\) must be below .* \(60 s\)"):
        Settings(inference_time_limit=60, inference_visibility_timeout=60)
    assert Settings(inference_time_limit=59, inference_visibility_timeout=60).inference_time_limit == 59


def test_the_body_limit_must_hold_the_longest_text_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """MAX_TEXT_CHARS raised alone: texts the schema calls valid got 413 (a client that escapes
    non-ASCII sends 6 bytes a character, 12 outside the BMP)."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="MAX_BODY_BYTES must be at least 241024"):
        Settings(max_text_chars=20_000)
    assert Settings(max_text_chars=20_000, max_body_bytes=241_024).max_body_bytes == 241_024
    text = "\U0001f600" * Settings().max_text_chars  # each character 12 bytes escaped
    assert len(json.dumps({"text": text}).encode()) <= Settings().max_body_bytes


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_body_bytes", 10**13),
        ("max_text_chars", 10**8),
        ("max_finetune_steps", 10**8),
        ("max_batch_chars", 10**9),
        ("max_queued_jobs", 10**9),
        ("max_queued_jobs_per_key", 10**9),
    ],
)
def test_sizes_with_zeros_too_many_are_refused(name: str, value: int) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="less than or equal"):
        Settings(**{name: value})
