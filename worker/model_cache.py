"""Keep loaded predictors in memory and swap in a newer version when the store publishes one.

Each worker process loads a model once and reuses it for every job. Before each batch the cache
asks the store which version is served (a directory listing, no weights read); when a training
job has published a newer one, the cache loads it and drops the old one: hot reload, no restart.

A newer version loads on a thread of its own while the one in memory serves on, as Triton's model
repository polling does: the batch that noticed it waits at most ``SWAP_WAIT_S`` for it (a small
model is served by its new version from the first job after it was published), and a large model's
load, tens of seconds, never holds up its jobs. A worker with no version in memory loads it at once.

A version that fails to load is tried again only after ``RETRY_FAILED_LOAD_S``, not for every
batch and every input (a batch of 32 would otherwise load it 33 times over); meanwhile the version
already in memory, if any, goes on serving, and jobs that have none fail at once with the reason.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import torch

from shared.client_errors import ClientFacingError
from shared.model_registry import REGISTRY, ModelName
from shared.model_store import ModelStore, ModelVersion, missing_version_message
from worker import metrics
from worker.job_errors import out_of_memory
from worker.predictors import Predictor

logger = logging.getLogger(__name__)

RETRY_FAILED_LOAD_S = 60.0
# A version that ran out of memory loading beside the one in memory is tried again this much later:
# a retry allocates it all again beside the batches running, but what filled the memory (a trainer
# on the same GPU, a burst of long batches) may have passed.
RETRY_OUT_OF_MEMORY_LOAD_S = 600.0
# How long the job that finds a newer version waits for it to load before the version in memory
# answers it; jobs after it are served by the old version until the new one is loaded.
SWAP_WAIT_S = 3.0

Loader = Callable[[ModelVersion, torch.device], Predictor]


class ModelNotReadyError(ClientFacingError, RuntimeError):
    """The store has no version of a model yet."""


class ModelLoadError(ClientFacingError, RuntimeError):
    """The served version of a model could not be loaded, and no other version is in memory."""


@dataclass
class FailedLoad:
    version: str
    error: Exception  # its frames cleared: they held the half-loaded weights
    at: float
    out_of_memory: bool = False  # beside another version: tried again after RETRY_OUT_OF_MEMORY_LOAD_S


@dataclass
class BackgroundLoad:
    version: str
    done: threading.Event


@dataclass
class LoadStats:
    loads: int = 0
    last_load_seconds: float = 0.0
    version: str | None = None


def without_frames(error: BaseException) -> Exception:
    """``error`` with its traceback's local variables dropped, and those of the errors it chains:
    kept for the failed load's report, they held the half-built model (on the GPU, every tensor
    already moved there) for as long as the failure is remembered."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if link.__traceback__ is not None:
            traceback.clear_frames(link.__traceback__)
        link = link.__cause__ or link.__context__
    return error.with_traceback(None)  # type: ignore[return-value]


def registry_loader(name: ModelName) -> Loader:
    module = importlib.import_module(REGISTRY[name].predictor)
    return module.load  # type: ignore[no-any-return]


# One model loads at a time in a process, whichever it is: transformers builds a model under a
# process-wide "empty weights" context (its parameters on the meta device), so a second model
# built on another thread meanwhile got meta tensors, and failed to load ("Cannot copy out of
# meta tensor"): the LLM preloading while the first extraction job loaded the extractor.
_ONE_LOAD_AT_A_TIME = threading.Lock()


class ModelCache:
    def __init__(
        self,
        store: ModelStore,
        device: torch.device,
        loader_for: Callable[[ModelName], Loader] = registry_loader,
        clock: Callable[[], float] = time.monotonic,
        swap_wait_s: float = SWAP_WAIT_S,
    ) -> None:
        self.store = store
        self.device = device
        self._loader_for = loader_for
        self._clock = clock
        self._swap_wait_s = swap_wait_s
        self._loaded: dict[ModelName, Predictor] = {}
        self._failed: dict[ModelName, FailedLoad] = {}
        self._background: dict[ModelName, BackgroundLoad] = {}
        self._locks = {name: threading.Lock() for name in ModelName}
        self.stats = {name: LoadStats() for name in ModelName}

    def get(self, name: ModelName) -> Predictor:
        served = self.store.served_version_id(name)
        if served is None:
            raise ModelNotReadyError(missing_version_message(name))
        current = self._loaded.get(name)
        if current is None:
            with self._locks[name]:
                current = self._loaded.get(name)  # another thread may have loaded one meanwhile
                if current is None:
                    return self._first_load(name, served)
        if current.version == served:
            return current
        return self._swapped(name, current, served)

    def _first_load(self, name: ModelName, served: str) -> Predictor:
        """With none in memory: ``served``, or the newest older version that loads (under the lock)."""
        if self._worth_trying(name, served):
            try:
                return self._load(name, served)
            except ModelNotReadyError:
                raise
            except Exception as error:
                self._remember_failure(name, served, error)
                if (older := self._load_newest_older(name, served)) is not None:
                    return older
        failed = self._failed[name]  # of ``served``: just now, or within its pause
        raise ModelLoadError(
            f"version {failed.version} of {name.value!r} could not be loaded"
            f" ({type(failed.error).__name__}: the worker's log has its message); tried again every"
            f" {RETRY_FAILED_LOAD_S:.0f} s, or publish a new version"
        ) from failed.error

    def _worth_trying(self, name: ModelName, version_id: str) -> bool:
        """Whether to load ``version_id``: it has not failed to, or its pause since then is over."""
        failed = self._failed.get(name)
        if failed is None or failed.version != version_id:
            return True
        pause = RETRY_OUT_OF_MEMORY_LOAD_S if failed.out_of_memory else RETRY_FAILED_LOAD_S
        return self._clock() - failed.at >= pause

    def _swapped(self, name: ModelName, current: Predictor, served: str) -> Predictor:
        """``served`` once it is loaded, waiting at most ``swap_wait_s`` for a load this call
        starts; ``current`` meanwhile, and for good if ``served`` fails to load."""
        with self._locks[name]:
            loading = self._background.get(name)
            if loading is not None and not loading.done.is_set():
                # one load at a time; a version published during it is loaded after it
                return self._loaded.get(name, current)
            if not self._worth_trying(name, served):
                return self._loaded.get(name, current)
            loading = self._background[name] = BackgroundLoad(served, threading.Event())
            threading.Thread(
                target=self._load_in_background, args=(name, loading), name=f"load-{name.value}", daemon=True
            ).start()
        loading.done.wait(self._swap_wait_s)
        return self._loaded.get(name, current)

    def _load_in_background(self, name: ModelName, loading: BackgroundLoad) -> None:
        try:
            self._load(name, loading.version)
        except Exception as error:
            self._remember_failure(name, loading.version, error)
        finally:
            loading.done.set()

    def _remember_failure(self, name: ModelName, version_id: str, error: Exception) -> None:
        current = self._loaded.get(name)
        keeps = f"; still serving version {current.version}" if current is not None else ""
        logger.error("could not load %s version %s%s", name.value, version_id, keeps, exc_info=error)
        self._failed[name] = FailedLoad(
            version_id, without_frames(error), self._clock(), out_of_memory(error) and current is not None
        )
        if self.device.type == "cuda":  # what the failed load had put on the GPU, back to the others
            torch.cuda.empty_cache()

    def _load_newest_older(self, name: ModelName, broken: str) -> Predictor | None:
        """The newest version older than ``broken`` that loads, loaded; None if none does. The
        served version is the newest good one: a worker starting after a broken version was
        published serves the one before it, as one that had it in memory goes on doing."""
        for version in reversed(self.store.versions(name)):
            if version.version >= broken:
                continue
            try:
                return self._load(name, version.version)
            except Exception:
                logger.exception("could not load %s version %s either", name.value, version.version)
        return None

    def retry_unservable(self, names: list[ModelName]) -> None:
        """Load again, once their pause is over, those of ``names`` that failed with none in memory:
        a worker that is not ready because of them gets no jobs that would (GET /ready)."""
        for name in self.unservable(names):
            try:
                self.get(name)
            except Exception as error:  # the load's own failure is logged where it failed
                logger.info("%s still not loadable: %s", name.value, type(error).__name__)

    def unservable(self, names: list[ModelName]) -> list[ModelName]:
        """Those of ``names`` that failed to load with no version in memory: their jobs fail."""
        return [name for name in names if name in self._failed and name not in self._loaded]

    def loaded(self, name: ModelName) -> Predictor | None:
        """The predictor in memory now, if any: never loads, never asks the store."""
        return self._loaded.get(name)

    def _load(self, name: ModelName, version_id: str) -> Predictor:
        version = self.store.get(name, version_id)
        if version is None:
            raise LookupError(f"version {version_id} is gone from the store, or its metadata is unreadable")
        started = time.perf_counter()
        with _ONE_LOAD_AT_A_TIME:
            predictor = self._loader_for(name)(version, self.device)
        elapsed = time.perf_counter() - started
        self._loaded[name] = predictor
        if (failed := self._failed.get(name)) is not None and failed.version <= version_id:
            del self._failed[name]  # the failure of an older version, or of this one
        stats = self.stats[name]
        stats.loads += 1
        stats.last_load_seconds = elapsed
        stats.version = version_id
        metrics.record_load(name.value, elapsed)
        logger.info("loaded %s version %s in %.2f s", name.value, version_id, elapsed)
        return predictor

    def preload(self, names: list[ModelName]) -> None:
        for name in names:
            try:
                self.get(name)
            except ModelNotReadyError as error:
                logger.warning("not preloaded: %s", error)
            except ModelLoadError:  # logged where it failed; its jobs will report the error
                logger.warning("not preloaded: %s", name.value)
            except Exception:  # a broken store must not keep the worker from serving the others
                logger.exception("could not preload %s; its jobs will report the error", name.value)

    def snapshot(self) -> dict[str, dict[str, object]]:
        shown: dict[str, dict[str, object]] = {}
        for name, s in self.stats.items():
            failed = self._failed.get(name)
            if not s.loads and failed is None:
                continue
            shown[name.value] = {
                "version": s.version,
                "loads": s.loads,
                "last_load_seconds": round(s.last_load_seconds, 3),
            }
            loading = self._background.get(name)
            if loading is not None and not loading.done.is_set():
                shown[name.value]["loading_version"] = loading.version
            if failed is not None:
                shown[name.value]["failed_version"] = failed.version
                # every API key reads it (GET /workers): the type alone, as a job's error gives it
                # (its message may hold the host's paths); the worker's log has the message
                shown[name.value]["failed_error"] = type(failed.error).__name__
        return shown
