"""What every training CLI does with an error its user can fix: one line, not a traceback."""

from __future__ import annotations

import argparse
import errno
import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import TypeVar

from shared.client_errors import ClientFacingError
from shared.data_files import DataUnavailableError
from training.device import NoCudaError

Result = TypeVar("Result")


class UsageError(ClientFacingError, ValueError):
    """A setting out of range for the run asked for (e.g. more held-out articles than the data has)."""


# Missing or unreadable data (a DATA_DIR file, a --corpus file) and settings out of range.
# DEVICE=cuda where torch sees no GPU too.
USER_ERRORS = (DataUnavailableError, FileNotFoundError, IsADirectoryError, UsageError, NoCudaError)


def command_name(spec: ModuleSpec | None) -> str | None:
    """A CLI's name as its user types it, for argparse's ``prog`` (whose default, the file's name,
    gives "usage: __main__.py"): ``python -m training.squad``; None when run by path."""
    return f"python -m {spec.name.removesuffix('.__main__')}" if spec is not None else None


MAX_SEED = 2**32 - 1  # numpy's generators take no more (the API bounds a job's seed alike)


def check_seed(seed: int) -> None:
    """A seed out of 0..MAX_SEED is the user's to change: said before training, not a numpy
    traceback once the model has loaded."""
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f"seed must be between 0 and {MAX_SEED}, not {seed}")


def read_utf8(path: Path, named: str) -> str:
    """The text of a file the user gave; one that is no UTF-8 text is a UsageError that names it as
    ``named`` (its name alone: a job may report the error to its client)."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # an editor's byte-order mark dropped
    except UnicodeDecodeError as error:
        raise UsageError(f"{named} is not UTF-8 text ({error.reason})") from None


def non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


class SourceUnavailableError(DataUnavailableError):
    """A model or dataset that could not be read (a Hub id offline, files missing): the operator's to
    fix. Not a client-facing error: a job that meets one reports its type only, not the message,
    which names the host's paths and cache."""


@contextmanager
def loading_from(source: str | Path) -> Iterator[None]:
    """Loading a model or a dataset: a directory that holds no model, or a Hub id unreachable
    (offline), said in one line. Memory or disk exhausted (ENOMEM, ENOSPC) goes on as it is, and
    so does any other error: a bug keeps its traceback."""
    if Path(str(source)).is_dir() and not (Path(str(source)) / "config.json").is_file():
        raise UsageError(f"{source} holds no model in save_pretrained layout (no config.json)")
    try:
        yield
    except OSError as error:  # transformers' and datasets' "couldn't connect", files missing
        if error.errno in (errno.ENOMEM, errno.ENOSPC):
            raise
        raise SourceUnavailableError(f"could not load {source}: {error}") from error


def user_errors_exit(main: Callable[[], Result]) -> Callable[[], Result]:
    """Run a CLI's main; an error the user can fix ends it with ``error: <message>`` and status 2."""

    @functools.wraps(main)
    def run() -> Result:
        try:
            return main()
        except USER_ERRORS as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None

    return run
