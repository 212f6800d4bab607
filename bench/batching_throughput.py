"""Does batching pay through the whole platform? Requests/s at concurrency 1 and 32.

For course-name extraction and LLM generation, in one run: throughput through the HTTP API
(synchronous endpoints, N concurrent clients, own Redis/API/inference worker on free local
ports, the documented settings but MAX_BATCH_SIZE=32) next to the same model called in-process
with the same batch sizes, and the ratios. The batch sizes are those the worker really formed
over HTTP (its heartbeat counts them), not the concurrency: 32 clients may well be served in
batches of 8. Each side is warmed up at the size it is timed at.

    python -m bench.batching_throughput --requests 160
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.own_platform import exit_unless_served, inference_platform
from launcher.local_platform import Platform
from shared.config import get_settings
from shared.model_registry import REGISTRY, ModelName
from shared.model_store import ModelStore
from training.cli import command_name
from training.device import get_device
from worker.heartbeat import INTERVAL_SECONDS

CASES = {
    ModelName.COURSE_EXTRACTOR: (
        "/extract-course-name/",
        {"text": "I'm taking Operating Systems and Advanced Mathematics"},
    ),
    ModelName.LLM: ("/generate_with_llm", {"start_word": "Once", "length": 16, "seed": 1}),
}


async def over_http(
    platform: Platform, model: ModelName, concurrency: int, total: int
) -> tuple[float, Counter[int]]:
    """Requests/s through the API, and the batch sizes the worker formed for the timed requests
    (the warm-up's are counted before them)."""
    path, body = CASES[model]
    async with httpx.AsyncClient(
        base_url=platform.api_url, timeout=300, limits=httpx.Limits(max_connections=concurrency + 4)
    ) as client:

        async def ask() -> None:
            response = await client.post(path, json=body)
            assert response.status_code == 200, response.text

        await asyncio.gather(*(ask() for _ in range(concurrency)))  # warm-up, connections opened
        await asyncio.sleep(INTERVAL_SECONDS + 0.5)  # the worker's next heartbeat counts it
        before = await batch_sizes(client)
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await ask()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        rate = total / (time.perf_counter() - started)
        await asyncio.sleep(INTERVAL_SECONDS + 0.5)
        return rate, await batch_sizes(client) - before


async def batch_sizes(client: httpx.AsyncClient) -> Counter[int]:
    """The batch sizes the inference worker has run, as its last heartbeat counts them."""
    workers = (await client.get("/workers")).json()["inference"]
    return Counter({int(size): count for size, count in workers[0]["batch_sizes"].items()})


def in_process_rate(predictor: Any, body: dict, formed: Counter[int]) -> float:
    """Requests/s of the model called directly, in batches of the sizes ``formed``."""
    for size in formed:
        predictor.predict_batch([body] * size)  # warm-up at each size
    started = time.perf_counter()
    for size, count in formed.items():
        for _ in range(count):
            predictor.predict_batch([body] * size)
    return inputs(formed) / (time.perf_counter() - started)


def inputs(formed: Counter[int]) -> int:
    return sum(size * batches for size, batches in formed.items())


def shown(formed: Counter[int]) -> str:
    mean = inputs(formed) / max(1, formed.total())
    sizes = ", ".join(f"{size}x{count}" for size, count in sorted(formed.items(), reverse=True))
    return f"{mean:.1f} ({sizes})"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=160, help="requests per measurement, 32 clients (a quarter: 1 client)"
    )
    parser.add_argument("--model-dir", type=Path, default=get_settings().model_dir)
    args = parser.parse_args()
    exit_unless_served(args.model_dir, CASES)
    store = ModelStore(args.model_dir)
    rows = []
    with inference_platform(
        args.model_dir, "batching", PRELOAD_MODELS="course-extractor,llm", MAX_BATCH_SIZE="32"
    ) as platform:
        for model in CASES:
            for concurrency in (1, 32):
                total = args.requests if concurrency == 32 else max(8, args.requests // 4)
                http, formed = asyncio.run(over_http(platform, model, concurrency, total))
                rows.append((model, concurrency, http, formed))
    # in-process once the platform has stopped: the two never share the CPU
    print(
        f"{'model':17} {'clients':>7} {'HTTP req/s':>10} {'in-process req/s':>16} {'HTTP/in-proc':>12}"
        "  batch size over HTTP: mean (size x batches)"
    )
    rates: dict[tuple[ModelName, int], float] = {}
    predictors: dict[ModelName, Any] = {}
    for model, concurrency, http, formed in rows:
        if model not in predictors:
            module = importlib.import_module(REGISTRY[model].predictor)
            # on the device the worker runs it on
            predictors[model] = module.load(store.served_version(model), get_device())
        local = in_process_rate(predictors[model], CASES[model][1], formed)
        rates[(model, concurrency)] = http
        ratio = http / local
        print(f"{model.value:17} {concurrency:>7} {http:10.2f} {local:16.2f} {ratio:12.2f}  {shown(formed)}")
    for model in CASES:
        gain = rates[(model, 32)] / rates[(model, 1)]
        print(f"{model.value}: HTTP throughput with 32 clients / with 1 = {gain:.1f}x")


if __name__ == "__main__":
    main()
