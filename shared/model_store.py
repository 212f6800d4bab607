"""Versioned model store on disk.

Layout: ``MODEL_DIR/<model>/<version>/`` holding the weights (Hugging Face ``save_pretrained``
layout, safetensors) and ``metadata.json``. A version becomes visible only when complete: it is
written under a hidden temporary name and renamed into place, so a crashed or cancelled training
run never leaves a half-written version that could be served. Its files are flushed to disk before
the rename, so a machine that loses power just after a publish does not come back with a version
of empty files. The newest complete version is the one served.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.model_registry import ModelName

logger = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
WRITER_FILE = ".writer"
PARTIAL_SUFFIX = ".partial"
REMOVED_SUFFIX = ".removed"  # a version being deleted
# A staging folder this young may not have its writer file yet: it is not judged abandoned.
STARTING_GRACE_S = 60.0
# A version is staged only while its files are saved, after training (seconds; minutes for the LLM
# on a slow disk). Another host's writer, whose process cannot be asked, has died if its staging
# folder is older than this (compose: a killed model-init's, found by the trainer).
OTHER_HOST_WRITE_S = 3600.0


@dataclass(frozen=True)
class ModelVersion:
    model: ModelName
    version: str
    path: Path
    metadata: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "metadata": self.metadata}

    def made_from(self, base: str, allowed_bases: Collection[str]) -> bool:
        """Whether the version counts as made from ``base`` (a setting's allowlisted value): it was,
        a fine-tune of it included, or it was made by hand from a directory (a base no allowlist
        names), which stays whatever the setting says."""
        recorded = self.metadata.get("base")
        return recorded == base or recorded not in allowed_bases


# The name of every version new_version_id makes: a folder of any other name (a copy, notes) is
# no version, however it sorts.
VERSION_ID = re.compile(r"v\d{8}T\d{12}-[0-9a-f]{6}")


def is_version_id(name: str) -> bool:
    return VERSION_ID.fullmatch(name) is not None


def new_version_id() -> str:
    """Sortable by creation time, unique across concurrent writers."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"v{stamp}-{secrets.token_hex(3)}"


def missing_version_message(model: ModelName) -> str:
    """What to tell a client whose request needs a model that has no version yet."""
    return (
        f"model {model.value!r} has no version in the store yet: a first `make run` (or compose's"
        f" model-init) prepares it in the background, see its log; or run"
        f" `python -m training.bootstrap {model.value}`"
    )


def _read_metadata(version_dir: Path) -> dict[str, Any]:
    """A version's metadata; ValueError when it is not a JSON object (``[]`` read as a version
    would fail every reader that asks it for a field)."""
    metadata = json.loads((version_dir / METADATA_FILE).read_text())
    if not isinstance(metadata, dict):
        raise ValueError(f"{METADATA_FILE} holds a JSON {type(metadata).__name__}, not an object")
    return metadata


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # Versions whose metadata has been read once: published versions never change, so the
        # check on every request reads each one's metadata only the first time.
        self._readable: set[Path] = set()

    def model_dir(self, model: ModelName) -> Path:
        return self.root / model.value

    def _version_dirs(self, model: ModelName) -> list[Path]:
        """The folders named like versions that hold a metadata file, oldest first (unread)."""
        directory = self.model_dir(model)
        if not directory.is_dir():
            return []
        return sorted(
            entry
            for entry in directory.iterdir()
            if is_version_id(entry.name) and (entry / METADATA_FILE).is_file()
        )

    def versions(self, model: ModelName) -> list[ModelVersion]:
        """Complete versions, oldest first."""
        found = []
        for entry in self._version_dirs(model):
            try:
                metadata = _read_metadata(entry)
            except (OSError, ValueError) as error:  # damaged on disk: listed by no one, served by no one
                logger.warning("skipping %s: its %s is unreadable (%s)", entry, METADATA_FILE, error)
                continue
            found.append(ModelVersion(model, entry.name, entry, metadata))
        return found

    def served_version(self, model: ModelName) -> ModelVersion | None:
        versions = self.versions(model)
        return versions[-1] if versions else None

    def served_version_id(self, model: ModelName) -> str | None:
        """Cheap check used on every request for hot reload: the names, and the newest one's
        metadata read, so that it names the version ``served_version`` (and ``GET /models``) does."""
        for entry in reversed(self._version_dirs(model)):
            if entry in self._readable:
                return entry.name
            try:
                _read_metadata(entry)
            except (OSError, ValueError):
                continue
            self._readable.add(entry)
            return entry.name
        return None

    def get(self, model: ModelName, version: str) -> ModelVersion | None:
        for candidate in self.versions(model):
            if candidate.version == version:
                return candidate
        return None

    def published(self, version: WritableVersion) -> ModelVersion:
        """The store's view of a version once its ``new_version`` block has completed."""
        found = self.get(version.model, version.version)
        if found is None:
            raise LookupError(f"{version.model.value} {version.version} was not published")
        return found

    def remove_abandoned_partials(self) -> list[Path]:
        """Delete staging folders whose writer process no longer exists (on another host: older
        than OTHER_HOST_WRITE_S).

        A training process killed mid-write leaves one behind; it was never visible, and this
        reclaims its disk space.
        """
        removed = []
        for model in ModelName:
            directory = self.model_dir(model)
            if not directory.is_dir():
                continue
            for removed_before in directory.glob(f".*{REMOVED_SUFFIX}"):  # its deletion was cut short
                shutil.rmtree(removed_before, ignore_errors=True)
                removed.append(removed_before)
            for staging in directory.glob(f".*{PARTIAL_SUFFIX}"):
                age, writer = _age(staging), staging / WRITER_FILE
                # with no writer file, a folder this young may be between its mkdir and that file;
                # one whose writer is dead goes at once (a training run killed while it saved)
                abandoned = not _writer_alive(writer, age) if writer.exists() else age >= STARTING_GRACE_S
                if abandoned:
                    shutil.rmtree(staging, ignore_errors=True)
                    removed.append(staging)
        return removed

    def remove_old_versions(
        self,
        model: ModelName,
        keep: int,
        spare: Collection[str] = (),
        kinds: Collection[str] | None = None,
    ) -> list[str]:
        """Delete the versions older than the newest ``keep`` of them (each a copy of the weights:
        517 MB for a fine-tuned SmolLM2, up to 700 MB for an extractor with its echo member),
        never the newest nor a version in ``spare``: those the workers hold, which answer while
        every newer one fails to load, and which a worker that restarts falls back to. With
        ``kinds``, only versions of those kinds (metadata ``kind``) count and go: an import of
        the LLM's base is never removed. Each is first renamed to a hidden folder, so no one
        lists or loads it half-deleted; a worker that has it in memory goes on serving it until
        it loads the newest. Returns the removed ids."""
        versions = self.versions(model)
        counted = [v for v in versions if kinds is None or v.metadata.get("kind") in kinds]
        doomed = [
            version
            for version in counted[: max(0, len(counted) - keep)]
            if version.version != versions[-1].version and version.version not in spare
        ]
        for version in doomed:
            hidden = version.path.with_name(f".{version.version}{REMOVED_SUFFIX}")
            os.replace(version.path, hidden)
            shutil.rmtree(hidden, ignore_errors=True)
        return [version.version for version in doomed]

    @contextmanager
    def new_version(self, model: ModelName, metadata: dict[str, Any]) -> Iterator[WritableVersion]:
        """Yield a temporary directory to write weights into; publish it atomically on success.

        Callers may add to ``version.metadata`` (metrics, say) before the block ends.
        """
        version_id = new_version_id()
        directory = self.model_dir(model)
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f".{version_id}{PARTIAL_SUFFIX}"
        staging.mkdir()
        (staging / WRITER_FILE).write_text(f"{socket.gethostname()}:{os.getpid()}")
        writable = WritableVersion(model, version_id, staging, dict(metadata))
        try:
            yield writable
            writable.metadata.setdefault("created_at", datetime.now(UTC).isoformat())
            writable.metadata["version"] = version_id
            writable.metadata["model"] = model.value
            (staging / METADATA_FILE).write_text(json.dumps(writable.metadata, indent=2, sort_keys=True))
            _flush_to_disk(staging)
            # the writer file stays until the rename: a worker starting meanwhile must not take the
            # folder for an abandoned one while its weights are flushed
            os.replace(staging, directory / version_id)
            (directory / version_id / WRITER_FILE).unlink()
            _flush_to_disk(directory, with_contents=False)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


def _flush_to_disk(folder: Path, *, with_contents: bool = True) -> None:
    """fsync the files under ``folder`` (deepest first), then ``folder`` itself (its entries)."""
    inside = sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True) if with_contents else []
    for path in [*inside, folder]:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _age(staging: Path) -> float:
    """Seconds since the staging folder last changed (0 if it is gone)."""
    try:
        return time.time() - staging.stat().st_mtime
    except OSError:
        return 0.0


def _writer_alive(writer_file: Path, staging_age: float) -> bool:
    try:
        host, _, pid = writer_file.read_text().partition(":")
    except OSError:
        return False
    if host != socket.gethostname():
        return staging_age < OTHER_HOST_WRITE_S  # its process cannot be asked from here
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


@dataclass
class WritableVersion:
    model: ModelName
    version: str
    path: Path
    metadata: dict[str, Any]
