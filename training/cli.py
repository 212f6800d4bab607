"""What every training CLI does with an error its user can fix: one line, not a traceback."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from typing import TypeVar

from shared.client_errors import ClientFacingError
from shared.data_files import DataUnavailableError

Result = TypeVar("Result")


class UsageError(ClientFacingError, ValueError):
    """A setting out of range for the run asked for (e.g. more held-out articles than the data has)."""


# Missing or unreadable data (a DATA_DIR file, a --corpus file) and settings out of range.
USER_ERRORS = (DataUnavailableError, FileNotFoundError, IsADirectoryError, UsageError)


def command_name(spec: ModuleSpec | None) -> str | None:
    """A CLI's name as its user types it, for argparse's ``prog`` (whose default, the file's name,
    gives "usage: __main__.py"): ``python -m training.squad``; None when run by path."""
    return f"python -m {spec.name.removesuffix('.__main__')}" if spec is not None else None


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


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
