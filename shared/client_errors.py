"""Errors whose message is written for the client: a job that ends with one reports it as it is.

Any other error a job raises (a library's, the system's) may carry the worker's file paths, memory
addresses or data in its message; the job reports its type only, and the worker's log has the rest.
"""

from __future__ import annotations


class ClientFacingError(Exception):
    """Raised with a message that says what went wrong and what to do about it."""
