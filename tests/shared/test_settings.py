"""Every setting is documented in the README's Settings table, and nothing there is stale."""

from __future__ import annotations

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
