"""The error a failed job records for its client (``GET /jobs/{id}``, a synchronous request's 500).

A ``ClientFacingError`` is reported as it is: its message was written for the client. Running out
of memory says so, with what to ask for instead. Any other error is reported by its type only: its
message may hold the worker's file paths or data, and goes to the worker's log with its traceback.
So are the operator's errors (a data file missing from DATA_DIR, DEVICE=cuda with no GPU): their
messages name the host's paths and settings, for the operator, who reads the log.
"""

from __future__ import annotations

from typing import Any

import torch

from shared.client_errors import ClientFacingError

OUT_OF_MEMORY_MESSAGE = (
    "the worker ran out of memory running this job: ask for less (a smaller batch_size or max_seq_len"
    " for fine-tuning; a shorter text or a smaller length for inference), or retry when it is less busy"
)


# What torch's CPU (and MPS) allocators say when they fail: a plain RuntimeError, not OutOfMemoryError.
_ALLOCATION_FAILED = ("can't allocate memory", "out of memory")


def out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(words in str(error) for words in _ALLOCATION_FAILED)


def job_error(error: BaseException, job_id: str) -> dict[str, Any]:
    """``{"type", "message"}`` of a job that ``error`` ended."""
    if isinstance(error, ClientFacingError):
        return {"type": type(error).__name__, "message": str(error)}
    if out_of_memory(error):
        return {"type": "OutOfMemory", "message": OUT_OF_MEMORY_MESSAGE}
    return {
        "type": "InternalError",
        "message": f"the worker failed running this job ({type(error).__name__}); its log has the"
        f" details under job {job_id}",
    }
