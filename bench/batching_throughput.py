"""Does batching pay through the whole platform? Requests/s at concurrency 1 and 32.

For course-name extraction and LLM generation, in one run: throughput through the HTTP API
(synchronous endpoints, N concurrent clients, own Redis/API/inference worker on free local
ports) next to the same model called in-process with the same batch sizes, and the ratios.

    python -m bench.batching_throughput --requests 64
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import httpx

from bench.own_platform import inference_platform
from shared.config import get_settings
from shared.model_registry import REGISTRY, ModelName
from shared.model_store import ModelStore
from training.device import get_device

CASES = {
    ModelName.COURSE_EXTRACTOR: (
        "/extract-course-name/",
        {"text": "I'm taking Operating Systems and Advanced Mathematics"},
    ),
    ModelName.LLM: ("/generate_with_llm", {"start_word": "Once", "length": 16, "seed": 1}),
}


async def http_rate(url: str, path: str, body: dict, concurrency: int, total: int) -> float:
    async with httpx.AsyncClient(
        base_url=url, timeout=300, limits=httpx.Limits(max_connections=concurrency + 4)
    ) as client:
        await client.post(path, json=body)  # warm-up
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                response = await client.post(path, json=body)
                assert response.status_code == 200, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


def in_process_rate(model: ModelName, body: dict, batch_size: int, total: int, store: ModelStore) -> float:
    import importlib

    predictor = importlib.import_module(REGISTRY[model].predictor).load(
        store.served_version(model),
        get_device(),  # where the worker runs it
    )
    predictor.predict_batch([body])  # warm-up
    started = time.perf_counter()
    done = 0
    while done < total:
        predictor.predict_batch([body] * batch_size)
        done += batch_size
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=64, help="requests per measurement at concurrency 32")
    parser.add_argument("--model-dir", type=Path, default=get_settings().model_dir)
    args = parser.parse_args()
    store = ModelStore(args.model_dir)
    rows = []
    with inference_platform(
        args.model_dir,
        "batching",
        PRELOAD_MODELS="course-extractor,llm",
        MAX_BATCH_SIZE="32",
        BATCH_WAIT_MS="10",
    ) as platform:
        for model, (path, body) in CASES.items():
            for concurrency in (1, 32):
                total = args.requests if concurrency == 32 else max(8, args.requests // 4)
                http = asyncio.run(http_rate(platform.api_url, path, body, concurrency, total))
                rows.append((model.value, concurrency, http))
    print(f"{'model':18} {'conc/batch':>10} {'HTTP req/s':>11} {'in-process req/s':>17} {'HTTP/in-proc':>13}")
    rates: dict[tuple[str, int], float] = {}
    for model_name, concurrency, http in rows:
        local = in_process_rate(
            ModelName(model_name), CASES[ModelName(model_name)][1], concurrency, args.requests, store
        )
        rates[(model_name, concurrency)] = http
        print(f"{model_name:18} {concurrency:>10} {http:11.2f} {local:17.2f} {http / local:13.2f}")
    for model in CASES:
        gain = rates[(model.value, 32)] / rates[(model.value, 1)]
        print(f"{model.value}: HTTP throughput at concurrency 32 / concurrency 1 = {gain:.1f}x")


if __name__ == "__main__":
    main()
