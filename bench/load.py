"""Mixed load on the platform from N concurrent clients for a fixed time, on localhost only.

Each client loops: a synchronous extraction, an asynchronous LLM generation job, then polls
that job until it is final. At the end the script waits (bounded) for every accepted job and
prints throughput, p50/p99 latency per endpoint, the number of 429s, and the number of accepted
jobs that never reached a final state, which must be 0.

    python -m bench.load --clients 16 --seconds 60            # starts its own platform
    python -m bench.load --url http://127.0.0.1:8000          # drives a running one

Against a platform with API keys it sends the first of API_KEYS (from the environment or .env),
or the key given with --api-key.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

import httpx

from bench.own_platform import exit_unless_served, inference_platform
from shared.config import get_settings
from shared.model_registry import ModelName
from training.cli import command_name

TEXTS = [
    "I'm enrolled in Operating Systems and Advanced Mathematics this term",
    "Is Introduction to Artificial Intelligence offered in spring?",
    "The cafeteria opens at noon.",
]
FINAL = {"succeeded", "failed", "cancelled"}
# Each must answer 2xx at least once, or the run fails (a store without models answers 503).
ENDPOINTS = ("POST /extract-course-name/", "POST /jobs", "GET /jobs/{id}")


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.accepted: set[str] = set()

    def record(self, endpoint: str, status: int, seconds: float) -> None:
        self.statuses[endpoint][status] += 1
        if 200 <= status < 300:  # not NO_ANSWER (0): a timeout or a refused connection
            self.latencies[endpoint].append(seconds)


# The status recorded for a request that got no answer (a timeout, a dropped connection).
NO_ANSWER = 0


async def timed(recorder: Recorder, endpoint: str, call) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await call
    except httpx.TransportError:
        recorder.record(endpoint, NO_ANSWER, time.perf_counter() - started)
        return None
    recorder.record(endpoint, response.status_code, time.perf_counter() - started)
    return response


async def client_loop(client: httpx.AsyncClient, recorder: Recorder, deadline: float, index: int) -> None:
    step = 0
    while time.monotonic() < deadline:
        step += 1
        text = TEXTS[(index + step) % len(TEXTS)]
        await timed(
            recorder, "POST /extract-course-name/", client.post("/extract-course-name/", json={"text": text})
        )
        payload = {"model": "llm", "start_word": "Once", "length": 16, "seed": step}
        response = await timed(
            recorder, "POST /jobs", client.post("/jobs", json={"type": "generate", "input": payload})
        )
        if response is None:
            continue
        if response.status_code in (429, 503):  # a full queue, a model not ready yet
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code != 202:
            continue
        job_id = response.json()["job_id"]
        recorder.accepted.add(job_id)
        while time.monotonic() < deadline:
            poll = await timed(recorder, "GET /jobs/{id}", client.get(f"/jobs/{job_id}", params={"wait": 5}))
            if poll is not None and poll.status_code == 200 and poll.json()["status"] in FINAL:
                break


async def unfinished(client: httpx.AsyncClient, job_ids: set[str], grace: float) -> list[str]:
    deadline = time.monotonic() + grace
    pending = set(job_ids)
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            response = await client.get(f"/jobs/{job_id}", params={"wait": 1})
            if response.status_code == 200 and response.json()["status"] in FINAL:
                pending.discard(job_id)
    return sorted(pending)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def drive(url: str, clients: int, seconds: float, grace: float, api_key: str | None = None) -> int:
    host = urlparse(url).hostname or ""
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit("bench/load.py only drives a platform on this machine (localhost)")
    recorder = Recorder()
    limits = httpx.Limits(max_connections=clients * 2 + 8)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits, headers=headers) as client:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(client_loop(client, recorder, deadline, i) for i in range(clients)))
        elapsed = time.monotonic() - started
        lost = await unfinished(client, recorder.accepted, grace)

    print(f"{clients} clients for {elapsed:.0f} s against {url}")
    print(f"{'endpoint':30} {'ok':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for endpoint in sorted(recorder.statuses):  # an endpoint that never answered 2xx too
        samples = recorder.latencies[endpoint]
        statuses = dict(sorted(recorder.statuses[endpoint].items()))
        print(
            f"{endpoint:30} {len(samples):6d} {len(samples) / elapsed:7.2f} "
            f"{percentile(samples, 0.5) * 1000:8.1f} {percentile(samples, 0.99) * 1000:8.1f}  {statuses}"
        )
    too_many = sum(s.get(429, 0) for s in recorder.statuses.values())
    print(f"429 answers: {too_many}")
    print(f"accepted jobs: {len(recorder.accepted)}; not final after {grace:.0f} s grace: {len(lost)}")
    unserved = [endpoint for endpoint in ENDPOINTS if not recorder.latencies[endpoint]]
    if unserved or not recorder.accepted:
        print(f"no request answered 2xx on {', '.join(unserved) or 'POST /jobs'}: see the statuses above")
        return max(1, len(lost))
    return len(lost)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running platform (default: start one on free local ports)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--grace", type=float, default=120, help="bounded wait for accepted jobs at the end")
    parser.add_argument("--model-dir", type=Path, default=get_settings().model_dir)
    parser.add_argument(
        "--api-key", default=next(iter(get_settings().api_keys), None), help="default: the first of API_KEYS"
    )
    args = parser.parse_args()
    if args.url:
        lost = asyncio.run(drive(args.url, args.clients, args.seconds, args.grace, args.api_key))
        raise SystemExit(1 if lost else 0)
    exit_unless_served(args.model_dir, (ModelName.COURSE_EXTRACTOR, ModelName.LLM))
    with inference_platform(
        args.model_dir, "load", append_only=True, PRELOAD_MODELS="course-extractor,llm"
    ) as platform:
        lost = asyncio.run(drive(platform.api_url, args.clients, args.seconds, args.grace))
    raise SystemExit(1 if lost else 0)


if __name__ == "__main__":
    main()
