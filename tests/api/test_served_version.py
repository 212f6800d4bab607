"""Which version GET /models names served, from what the live inference workers report."""

from __future__ import annotations

from pathlib import Path

from api.routes.models import model_view, served_version
from shared.model_registry import ModelName
from shared.model_store import ModelStore


def test_the_newest_is_served_while_any_worker_has_not_failed_it() -> None:
    assert served_version("v2", []) == "v2"  # no worker reports yet: the next job loads the newest
    assert served_version("v2", [{"version": "v1"}]) == "v2"  # it swaps in v2 at its next batch
    one_failed = [{"version": "v1", "failed_version": "v2"}, {"version": "v2"}]
    assert served_version("v2", one_failed) == "v2"


def test_when_every_worker_failed_the_newest_the_one_they_hold_is_served() -> None:
    failed = [{"version": "v1", "failed_version": "v3"}, {"version": "v2", "failed_version": "v3"}]
    assert served_version("v3", failed) == "v2"
    assert served_version("v3", [{"version": None, "failed_version": "v3"}]) is None  # its jobs fail
    assert served_version(None, failed) is None


def test_the_model_view_counts_the_workers_holding_failing_and_loading_each_version(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    versions = []
    for _ in range(3):
        with store.new_version(ModelName.BIGRAM, {}) as version:
            versions.append(version.version)
    v1, v2, v3 = versions
    reports = [
        {"version": v1, "loading_version": v3},  # loads v3 on a thread while v1 answers
        {"version": v2, "failed_version": v3},
        {"version": v3},
    ]
    view = model_view(store, ModelName.BIGRAM, reports)
    assert view.served_version == v3  # the third worker serves it
    assert view.loaded_by_workers == {v1: 1, v2: 1, v3: 1}
    assert view.failed_to_load == {v3: 1}
    assert view.loading_in_workers == {v3: 1}


def test_while_every_worker_still_loads_the_newest_the_one_they_hold_is_served() -> None:
    """Jobs are answered by the version in memory until the new one is loaded (tens of seconds for
    a large model): GET /models named the new one meanwhile."""
    assert served_version("v2", [{"version": "v1", "loading_version": "v2"}]) == "v1"
    failed_and_loading = [
        {"version": None, "failed_version": "v2"},
        {"version": "v1", "loading_version": "v2"},
    ]
    assert served_version("v2", failed_and_loading) == "v1"
    assert served_version("v3", [{"version": "v1", "loading_version": "v2"}]) == "v3"  # v3 next


def test_after_a_rollback_the_removed_version_the_workers_hold_is_served_until_the_older_one_loads() -> None:
    """The README's rollback removes the newest version's folder: the workers answer with the one
    they hold while they load the older one (or for good, if it fails to load). GET /models said
    null, "they hold none", while every job succeeded."""
    assert served_version("v1", [{"version": "v2", "loading_version": "v1"}]) == "v2"
    assert served_version("v1", [{"version": "v2", "failed_version": "v1"}]) == "v2"
    assert served_version("v1", [{"version": "v2", "loading_version": "v1"}, {"version": "v1"}]) == "v1"


def test_the_model_view_shows_no_host_paths(tmp_path: Path) -> None:
    """A CORPUS_FILE outside DATA_DIR and a base imported from a directory are recorded whole; every
    API key reads GET /models, and saw the worker host's paths."""
    store = ModelStore(tmp_path)
    metadata = {
        "corpus": "/home/alice/private/notes-corpus.txt",
        "corpus_in_data_dir": "DATA_DIR/corpus/tinyshakespeare.txt.gz",
        "base": "openai-community/gpt2",
        "training": {"from": "~/models/my-base", "steps": [1, "/srv/x/y.bin"]},
    }
    with store.new_version(ModelName.BIGRAM, metadata):
        pass
    shown = model_view(store, ModelName.BIGRAM, []).versions[0].metadata
    assert shown["corpus"] == ".../notes-corpus.txt"
    assert shown["corpus_in_data_dir"] == "DATA_DIR/corpus/tinyshakespeare.txt.gz"
    assert shown["base"] == "openai-community/gpt2"
    assert shown["training"] == {"from": ".../my-base", "steps": [1, ".../y.bin"]}
    assert store.versions(ModelName.BIGRAM)[0].metadata["corpus"] == metadata["corpus"]  # kept on disk
