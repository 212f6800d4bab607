"""The versioned model store publishes complete versions only."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from launcher.ports import free_port
from shared import model_store
from shared.job_store import JobStore, heartbeat_key, worker_index_key
from shared.jobs import Queue
from shared.model_registry import ModelName
from shared.model_store import STARTING_GRACE_S, ModelStore
from shared.retention import remove_versions_past


def test_new_version_is_published_with_metadata(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with store.new_version(ModelName.BIGRAM, {"base": "none"}) as version:
        (version.path / "weights.json").write_text("{}")
        version.metadata["metrics"] = {"perplexity": 12.5}
    served = store.served_version(ModelName.BIGRAM)
    assert served is not None
    assert served.version == version.version
    assert served.metadata["metrics"] == {"perplexity": 12.5}
    assert served.metadata["base"] == "none"
    assert (served.path / "weights.json").is_file()
    assert store.served_version_id(ModelName.BIGRAM) == version.version


def test_newest_version_is_served(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    ids = []
    for _ in range(3):
        with store.new_version(ModelName.LLM, {}) as version:
            ids.append(version.version)
    assert [v.version for v in store.versions(ModelName.LLM)] == ids
    assert store.served_version_id(ModelName.LLM) == ids[-1]


def test_a_folder_that_is_no_version_is_never_served(tmp_path: Path) -> None:
    """A folder with a metadata.json that sorted last ("zzz-notes", a copy) was the served version."""
    store = ModelStore(tmp_path)
    with store.new_version(ModelName.BIGRAM, {}) as version:
        pass
    for name in ("zzz-notes", f"{version.version}-copy", "w99999999T999999999999-abcdef"):
        (store.model_dir(ModelName.BIGRAM) / name).mkdir()
        (store.model_dir(ModelName.BIGRAM) / name / "metadata.json").write_text("{}")
    assert [v.version for v in store.versions(ModelName.BIGRAM)] == [version.version]
    assert store.served_version_id(ModelName.BIGRAM) == version.version


def test_failed_write_leaves_no_version(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with pytest.raises(RuntimeError), store.new_version(ModelName.LLM, {}) as version:
        (version.path / "half-written.safetensors").write_bytes(b"\0" * 10)
        raise RuntimeError("training crashed")
    assert store.versions(ModelName.LLM) == []
    assert store.served_version_id(ModelName.LLM) is None
    assert list(store.model_dir(ModelName.LLM).iterdir()) == []


def test_abandoned_partial_of_a_dead_writer_is_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    store = ModelStore(tmp_path)
    script = (
        "import os; from pathlib import Path; from shared.model_store import ModelStore; "
        "from shared.model_registry import ModelName; "
        f"cm = ModelStore(Path({str(tmp_path)!r})).new_version(ModelName.LLM, {{}}); "
        "cm.__enter__(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    partials = list(store.model_dir(ModelName.LLM).glob(".*.partial"))
    assert len(partials) == 1
    # young, but its writer named and dead: gone at once (a training run killed while it saved
    # kept its 540 MB until the worker's next start)
    starting = store.model_dir(ModelName.LLM) / f".vstarting{model_store.PARTIAL_SUFFIX}"
    starting.mkdir()  # between its mkdir and its writer file
    with store.new_version(ModelName.LLM, {}) as in_progress:
        assert store.remove_abandoned_partials() == partials
        assert in_progress.path.exists(), "a live writer's staging folder must be kept"
        assert starting.exists(), "kept while it may be starting"
    assert store.versions(ModelName.LLM)[0].version == in_progress.version
    os.utime(starting, (time.time() - STARTING_GRACE_S, time.time() - STARTING_GRACE_S))
    assert store.remove_abandoned_partials() == [starting]


def test_another_hosts_partial_is_removed_once_older_than_any_write(tmp_path: Path) -> None:
    """Compose runs model-init and the trainer as two hosts: a killed model-init's staging folder
    was never removed, since another host's writer counted as alive for ever."""
    store = ModelStore(tmp_path)
    directory = store.model_dir(ModelName.LLM)
    staging = {age: directory / f".v{age}{model_store.PARTIAL_SUFFIX}" for age in ("recent", "old")}
    for age, folder in staging.items():
        folder.mkdir(parents=True)
        (folder / model_store.WRITER_FILE).write_text("another-host:12345")
        seconds = STARTING_GRACE_S + 10 if age == "recent" else model_store.OTHER_HOST_WRITE_S + 10
        os.utime(folder, (time.time() - seconds, time.time() - seconds))
    assert store.remove_abandoned_partials() == [staging["old"]]
    assert staging["recent"].exists()


@pytest.mark.parametrize("damage", ["", "[]", '"text"'])  # as a crash may leave it; as a hand may write it
def test_a_version_whose_metadata_is_damaged_is_skipped_not_an_error(tmp_path: Path, damage: str) -> None:
    store = ModelStore(tmp_path)
    with store.new_version(ModelName.LLM, {}) as good:
        pass
    with store.new_version(ModelName.LLM, {}) as damaged:
        pass
    (tmp_path / "llm" / damaged.version / "metadata.json").write_text(damage)
    assert [v.version for v in store.versions(ModelName.LLM)] == [good.version]
    assert store.get(ModelName.LLM, damaged.version) is None
    # the workers' hot-reload check serves what GET /models says is served, not the damaged one
    assert store.served_version_id(ModelName.LLM) == good.version


def test_a_worker_starting_while_a_version_is_flushed_to_disk_leaves_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(tmp_path)
    flush = model_store._flush_to_disk

    def flush_while_a_worker_starts(folder: Path, *, with_contents: bool = True) -> None:
        if with_contents:
            os.utime(folder, (0, 0))  # long past the grace of a folder being created
            assert store.remove_abandoned_partials() == []
        flush(folder, with_contents=with_contents)

    monkeypatch.setattr(model_store, "_flush_to_disk", flush_while_a_worker_starts)
    with store.new_version(ModelName.LLM, {}) as version:
        (version.path / "model.safetensors").write_bytes(b"weights")
    published = store.served_version(ModelName.LLM)
    assert published is not None and published.version == version.version
    assert sorted(p.name for p in published.path.iterdir()) == ["metadata.json", "model.safetensors"]


def test_old_finetuned_versions_past_the_kept_number_are_removed_and_imports_never(tmp_path: Path) -> None:
    """Each fine-tune left a 517 MB copy of the weights for ever: one key's jobs could fill the disk."""
    store = ModelStore(tmp_path)
    kinds = ["import", "finetuned", "finetuned", "import", "finetuned", "finetuned"]
    ids = []
    for kind in kinds:
        with store.new_version(ModelName.LLM, {"kind": kind}) as version:
            (version.path / "model.safetensors").write_bytes(b"weights")
            ids.append(version.version)
    removed = store.remove_old_versions(ModelName.LLM, keep=2, kinds={"finetuned"})
    assert removed == [ids[1], ids[2]]
    assert [v.version for v in store.versions(ModelName.LLM)] == [ids[0], ids[3], ids[4], ids[5]]
    assert sorted(p.name for p in store.model_dir(ModelName.LLM).iterdir()) == sorted([ids[0], *ids[3:]])
    assert store.remove_old_versions(ModelName.LLM, keep=2, kinds={"finetuned"}) == []
    assert store.remove_old_versions(ModelName.LLM, keep=1, kinds={"finetuned"}) == [ids[4]]
    assert store.served_version_id(ModelName.LLM) == ids[5]


def test_a_removal_cut_short_is_finished_when_a_worker_starts(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    left = store.model_dir(ModelName.LLM) / f".v1{model_store.REMOVED_SUFFIX}"
    left.mkdir(parents=True)
    (left / "model.safetensors").write_bytes(b"weights")
    assert store.remove_abandoned_partials() == [left]
    assert not left.exists()


def test_versions_past_the_kept_number_go_but_not_those_live_workers_hold(
    tmp_path: Path, redis_url: str
) -> None:
    """The extractor's versions were never removed (700 MB each with the echo member), and the
    LLM's retention deleted the version the workers answered with when newer ones failed to load."""
    store = ModelStore(tmp_path)
    ids = []
    for _ in range(5):
        with store.new_version(ModelName.COURSE_EXTRACTOR, {"kind": "trained"}) as version:
            ids.append(version.version)
    job_store = JobStore.from_url(redis_url, ttl=600)
    hostname = f"inference@{uuid.uuid4().hex}"
    worker = {"models": {"course-extractor": {"version": ids[0], "loads": 1}}}
    job_store.heartbeat(Queue.INFERENCE, hostname, worker, ttl=60)
    try:
        removed = remove_versions_past(store, job_store, ModelName.COURSE_EXTRACTOR, keep=2)
    finally:
        job_store.client.delete(heartbeat_key(Queue.INFERENCE, hostname))
        job_store.client.srem(worker_index_key(Queue.INFERENCE), hostname)
    assert removed == ids[1:3]
    assert [v.version for v in store.versions(ModelName.COURSE_EXTRACTOR)] == [ids[0], *ids[3:]]


def test_no_version_goes_while_redis_cannot_say_which_workers_hold(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    for _ in range(4):
        with store.new_version(ModelName.COURSE_EXTRACTOR, {"kind": "trained"}):
            pass
    unreachable = JobStore.from_url(f"redis://127.0.0.1:{free_port()}/0", ttl=600, outage_seconds=0)
    assert remove_versions_past(store, unreachable, ModelName.COURSE_EXTRACTOR, keep=2) == []
    assert len(store.versions(ModelName.COURSE_EXTRACTOR)) == 4
