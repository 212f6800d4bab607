"""Pages of a key's jobs, newest first, and the cursor that goes from one page to the next.

The jobs of an owner are listed from an index: a sorted set of job ids scored by creation time.
A position (an offset) in it moves when entries leave or join it: removing an expired entry newer
than where a page stopped made the next page skip a job, and each job created between two pages
made it repeat one. A cursor names the entry a page stopped after, its score and job id, and the
next page starts right after that entry wherever it stands by then.

A page is read in chunks, each by one script (`PAGE_CHUNK_LUA`), so that finding where a chunk
starts and reading it are one atomic step: a job created or removed meanwhile cannot shift it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    # The scan bound stopped the page with older entries not looked at.
    older_unread: bool = False


# KEYS: an owner's index. ARGV: where to start ("offset" and a position, or "after" and a cursor's
# score and job id), how many entries to look at, how many matching jobs to take, the owner, a
# status ("" for any) and the job keys' prefix.
#
# Starts at the position, or right after the cursor's entry: where that entry is gone, after the
# place it had (entries of one score stand by job id, the greater first). Each entry looked at
# whose record has expired leaves the index (records and entries are written in one transaction,
# so no entry precedes its record). Stops before a match past those taken, and reports it.
# Returns: the entries looked at, the last of them (job id and score; "" where none), the position
# after them, the size of the index, whether a match was left, and the record's fields of each match
# taken.
PAGE_CHUNK_LUA = """
local index = KEYS[1]
local rank
if ARGV[1] == 'offset' then
  rank = tonumber(ARGV[2])
else
  local score, id = ARGV[2], ARGV[3]
  rank = redis.call('ZREVRANK', index, id)
  if rank then
    rank = rank + 1
  else
    rank = redis.call('ZCOUNT', index, '(' .. score, '+inf')
    for _, other in ipairs(redis.call('ZRANGEBYSCORE', index, score, score)) do
      if other > id then rank = rank + 1 end
    end
  end
end
local look, take = tonumber(ARGV[4]), tonumber(ARGV[5])
local owner, status, prefix = ARGV[6], ARGV[7], ARGV[8]
local entries = redis.call('ZREVRANGE', index, rank, rank + look - 1, 'WITHSCORES')
local position, looked, left = rank, 0, 0
local last_id, last_score = '', ''
local taken = {}
for i = 1, #entries, 2 do
  local id, score = entries[i], entries[i + 1]
  local key = prefix .. id
  local fields = redis.call('HMGET', key, 'status', 'owner')
  if not fields[1] then
    redis.call('ZREM', index, id)
  else
    if (fields[2] or '') == owner and (status == '' or fields[1] == status) then
      if #taken == take then
        left = 1
        break
      end
      table.insert(taken, redis.call('HGETALL', key))
    end
    position = position + 1
  end
  looked = looked + 1
  last_id, last_score = id, score
end
return {looked, last_id, last_score, position, redis.call('ZCARD', index), left, taken}
"""


@dataclass(frozen=True)
class PageChunk:
    """What one run of `PAGE_CHUNK_LUA` found."""

    looked: int
    last: ListCursor | None  # the last entry looked at
    position_after: int  # the position after the entries looked at
    index_size: int
    match_left: bool  # a match past those taken: the page is full
    taken: list[dict[str, str]]  # each match's record's fields

    @classmethod
    def from_reply(cls, reply: list[Any]) -> PageChunk:
        looked, last_id, last_score, position_after, index_size, left, taken = reply
        return cls(
            looked=looked,
            last=ListCursor(float(last_score), last_id) if last_id else None,
            position_after=position_after,
            index_size=index_size,
            match_left=bool(left),
            taken=[dict(zip(pairs[::2], pairs[1::2], strict=True)) for pairs in taken],
        )


def chunk_start(offset: int, after: ListCursor | None) -> list[str]:
    """The script's first arguments: a position, or the entry to start after."""
    if after is None:
        return ["offset", str(offset), ""]
    return ["after", repr(after.score), after.job_id]
