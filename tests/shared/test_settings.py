"""Every setting is documented in the README's Settings table, and nothing there is stale."""

from __future__ import annotations

import re

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
