"""`GET /jobs` for one user, alone and among many other users' jobs.

Starts its own Redis and API on free local ports (no worker: listing needs none), records
``--own`` jobs of the caller and then ``--others`` jobs of other users straight into the job
store, and prints the listing's median latency before and after the others arrived, as a ratio.
Each user's jobs have an index of their own, so the ratio should stay near 1. ``--deep`` also
times a page far down the caller's jobs and a status filter that matches none, whose work is
bounded (LIST_SCAN_MAX), against the first page.

    python -m bench.job_listing --others 20000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from launcher.local_platform import Platform, base_env
from shared.config import get_settings
from shared.job_store import AsyncJobStore, JobRecord, now_iso
from shared.jobs import JobStatus, JobType, Queue
from training.cli import command_name


def record(owner: str) -> JobRecord:
    job_input = {"model": "bigram", "start_word": "the", "length": 1}
    job_id = uuid.uuid4().hex
    return JobRecord(job_id, JobType.GENERATE, JobStatus.QUEUED, Queue.INFERENCE, job_input, now_iso(), owner)


async def add_jobs(redis_url: str, owners: list[str]) -> None:
    store = AsyncJobStore.from_url(redis_url, get_settings().result_ttl)
    try:
        for owner in owners:
            await store.create(record(owner))
    finally:
        await store.close()


def median_listing_ms(api: httpx.Client, requests: int, **params: str | int) -> float:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        page = api.get("/jobs", params={"limit": 50, **params})
        samples.append((time.perf_counter() - started) * 1000)
        assert page.status_code == 200, page.text
        assert len(page.json()["jobs"]) == (0 if "status" in params else 50), page.text
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--own", type=int, default=200)
    parser.add_argument("--others", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--deep",
        action="store_true",
        help="also time a page far down the caller's jobs (offset: --own minus 100) and a status filter"
        " that matches none of them, against the first page",
    )
    args = parser.parse_args()

    platform = Platform(Path(tempfile.mkdtemp(prefix="bench-listing-")), base_env(get_settings().model_dir))
    try:
        platform.start_redis()
        platform.start_api()
        asyncio.run(add_jobs(platform.redis_url, [""] * args.own))  # "": the caller, API keys off
        with platform.client() as api:
            alone = median_listing_ms(api, args.requests)
            if args.deep:
                deep = median_listing_ms(api, args.requests, offset=args.own - 100)
                filtered = median_listing_ms(api, args.requests, status="running")
                print(
                    f"GET /jobs?limit=50 among {args.own} own jobs: first page {alone:.1f} ms, at offset"
                    f" {args.own - 100} {deep:.1f} ms ({deep / alone:.2f}x), status=running (none)"
                    f" {filtered:.1f} ms ({filtered / alone:.2f}x)"
                )
            asyncio.run(add_jobs(platform.redis_url, [uuid.uuid4().hex[:6] for _ in range(args.others)]))
            among = median_listing_ms(api, args.requests)
    finally:
        platform.stop()
    print(
        f"GET /jobs?limit=50, {args.own} own jobs: median {alone:.1f} ms alone, "
        f"{among:.1f} ms among {args.others} other users' jobs: {among / alone:.2f}x"
    )


if __name__ == "__main__":
    main()
