"""Generated tokens written to their jobs' event streams by a thread of their own.

The batcher's thread generates every row of an LLM batch; were it to write each streamed token to
Redis itself, each step would wait for one round trip per streaming row, and a Redis that stalls
(or restarts, retried for up to a minute) would hold up the whole batch, rows that stream nothing
included. Here the batcher only hands the token over; this thread writes what has gathered in one
round trip, one event per job (its tokens joined into one piece of text), in order. A job's task
waits (``flush``) until its tokens are written before the job is recorded as finished, so the final
event never comes before a token.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter

from shared.client_errors import ClientFacingError
from shared.job_store import JobStore
from worker.batching import TokenCallback

logger = logging.getLogger(__name__)


class TokenStreamError(ClientFacingError, RuntimeError):
    """A job's streamed tokens could not all be written to its event stream."""


class TokenStreamWriter:
    def __init__(self, store: JobStore) -> None:
        self._store = store
        self._handed: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._state = threading.Condition()
        # per job being streamed: tokens handed in, tokens written; jobs whose writes failed
        self._sent: Counter[str] = Counter()
        self._written: Counter[str] = Counter()
        self._failed: set[str] = set()
        threading.Thread(target=self._write_forever, name="token-stream", daemon=True).start()

    def sender(self, job_id: str) -> TokenCallback:
        """The callback the batcher calls with each token of the job: it returns at once."""
        with self._state:
            self._sent[job_id] += 0  # the job is streamed from now on
        return lambda piece: self._send(job_id, piece)

    def _send(self, job_id: str, piece: str) -> None:
        with self._state:
            if job_id not in self._sent:
                return  # flushed: its task has ended (a row stopped by a cancel makes one more)
            self._sent[job_id] += 1
        self._handed.put((job_id, piece))

    def flush(self, job_id: str, timeout: float) -> None:
        """Wait until every token sent for the job is in its stream, then forget the job (tokens
        still sent for it are dropped). Raises TokenStreamError when a write failed or the tokens
        are not all written within ``timeout`` seconds."""
        with self._state:
            written = self._state.wait_for(
                lambda: job_id in self._failed or self._written[job_id] >= self._sent[job_id], timeout
            )
            failed = job_id in self._failed
            self._forget(job_id)
        if failed or not written:
            raise TokenStreamError(
                "the generated tokens could not all be written to the job's event stream (Redis did not "
                "take them): a client reading the stream would miss some; submit the job again"
            )

    def _forget(self, job_id: str) -> None:
        self._sent.pop(job_id, None)
        self._written.pop(job_id, None)
        self._failed.discard(job_id)

    def _write_forever(self) -> None:
        while True:
            handed = [self._handed.get()]
            while True:  # and whatever else has gathered since: one write per job
                try:
                    handed.append(self._handed.get_nowait())
                except queue.Empty:
                    break
            pieces: dict[str, list[str]] = {}
            for job_id, piece in handed:
                pieces.setdefault(job_id, []).append(piece)
            self._write(pieces)

    def _write(self, pieces: dict[str, list[str]]) -> None:
        """One event per job of its tokens joined, all in one round trip."""
        with self._state:  # not those whose task no longer waits, or a token before these was lost
            pieces = {
                job: text for job, text in pieces.items() if job in self._sent and job not in self._failed
            }
        if not pieces:
            return
        try:
            self._store.add_events(
                {job: {"type": "token", "text": "".join(text)} for job, text in pieces.items()}
            )
        except Exception:  # Redis did not take them (or anything else): the thread must live on
            logger.exception("could not write the streamed tokens of %d jobs", len(pieces))
            with self._state:
                self._failed.update(job for job in pieces if job in self._sent)
                self._state.notify_all()
            return
        with self._state:
            for job, text in pieces.items():
                if job in self._sent:
                    self._written[job] += len(text)
            self._state.notify_all()
