"""Latency of a trivial job through the whole platform: POST /jobs, then GET /jobs/{id}?wait=.

Starts its own Redis, API and inference worker on free local ports (the model store must hold
the default models: `make models`), sends N sequential one-word bigram jobs, and prints p50/p99
next to a bare Redis round trip (LPUSH + BRPOP) measured in the same run, as a ratio.

    python -m bench.job_latency --requests 300
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import redis

from bench.own_platform import inference_platform
from shared.config import get_settings
from training.cli import command_name


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def redis_round_trips(url: str, count: int) -> list[float]:
    client = redis.Redis.from_url(url)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client.lpush("bench:ping", b"x")
        client.brpop(["bench:ping"], timeout=1)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--model-dir", type=Path, default=get_settings().model_dir)
    args = parser.parse_args()

    with inference_platform(args.model_dir, "latency", PRELOAD_MODELS="bigram") as platform:
        job = {"type": "generate", "input": {"model": "bigram", "start_word": "the", "length": 1, "seed": 0}}
        samples = []
        with platform.client() as api:
            for index in range(args.requests + 20):
                started = time.perf_counter()
                job_id = api.post("/jobs", json=job).json()["job_id"]
                status = api.get(f"/jobs/{job_id}", params={"wait": 30}).json()["status"]
                elapsed = time.perf_counter() - started
                assert status == "succeeded", status
                if index >= 20:  # warm-up
                    samples.append(elapsed)
        bare = redis_round_trips(platform.redis_url, args.requests)

    p50, p99 = percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000
    bare_p50 = statistics.median(bare) * 1000
    print(f"trivial job, POST /jobs + GET ?wait  ({args.requests} sequential requests)")
    print(f"  p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   mean {statistics.mean(samples) * 1000:7.2f} ms")
    print(f"bare Redis LPUSH+BRPOP round trip p50 {bare_p50:7.3f} ms")
    print(f"ratio job p50 / bare Redis p50: {p50 / bare_p50:.1f}x")


if __name__ == "__main__":
    main()
