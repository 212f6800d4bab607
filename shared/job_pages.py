"""Pages of a key's jobs, newest first, and the cursor that goes from one page to the next.

The jobs of an owner are listed from an index: a sorted set of job ids scored by creation time.
A position (an offset) in it moves when entries leave or join it: trimming an expired entry
newer than where a page stopped made the next page skip a job, and each job created between two
pages made it repeat one. A cursor names the entry a page stopped after, its score and job id, and
the next page starts right after that entry wherever it stands by then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from shared.job_store import JobRecord

# A score as Python writes a float, "_", a job id; what GET /jobs accepts as its `cursor`.
CURSOR_PATTERN = r"^[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?_[A-Za-z0-9-]{1,64}$"


@dataclass(frozen=True)
class ListCursor:
    """An index entry: where a page stopped, the next one starts after it."""

    score: float
    job_id: str

    def __str__(self) -> str:
        return f"{self.score!r}_{self.job_id}"

    @classmethod
    def parse(cls, text: str) -> ListCursor:
        if not re.fullmatch(CURSOR_PATTERN, text):
            raise ValueError(f"not a cursor that GET /jobs gave: {text!r}")
        score, _, job_id = text.partition("_")
        return cls(float(score), job_id)


@dataclass(frozen=True)
class JobPage:
    records: list[JobRecord]
    # The position of the next page and the entry it starts after; both None: nothing after it.
    next_offset: int | None
    next_cursor: ListCursor | None
    # A status filter stopped at its scan bound with older entries not looked at.
    older_unread: bool = False


async def rank_after(client: aioredis.Redis, index: str, cursor: ListCursor) -> int:
    """The position, newest first, of the first entry after the cursor's in the index as it is now,
    whether that entry is still there or not."""
    async with client.pipeline(transaction=False) as pipe:
        pipe.zrevrank(index, cursor.job_id)
        pipe.zcount(index, f"({cursor.score!r}", "+inf")
        pipe.zrangebyscore(index, cursor.score, cursor.score)
        rank, newer, same_score = await pipe.execute()
    if rank is not None:
        return rank + 1
    # Entries of one score are ordered by id, and newest first means the greater id first.
    return newer + sum(1 for job_id in same_score if job_id > cursor.job_id)
