"""Does MAX_BATCH_CHARS pay? Long texts arriving all at once, through the HTTP API.

Starts its own Redis, API and inference worker (course-extractor only) on free local ports, once
with the default MAX_BATCH_CHARS and once with a budget no batch reaches, and each time sends
``--clients`` texts at the MAX_TEXT_CHARS limit to ``/extract-course-name/`` at the same moment.
Prints how many answered (the rest ran past INFERENCE_TIME_LIMIT), their median and slowest
latency.

    python -m bench.batch_budget [--clients 32] [--budgets 40000 400000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import httpx

from bench.extractor_latency import long_text
from bench.own_platform import exit_unless_served, inference_platform
from shared.config import get_settings
from shared.model_registry import ModelName
from training.cli import command_name, positive_int

NO_BUDGET = 10_000_000  # MAX_BATCH_CHARS's ceiling


async def send_all_at_once(url: str, text: str, clients: int) -> list[tuple[int, float]]:
    """Each request's status and seconds, all sent together."""
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        await client.post("/extract-course-name/", json={"text": "Operating Systems"})  # warm-up

        async def one() -> tuple[int, float]:
            started = time.perf_counter()
            response = await client.post("/extract-course-name/", json={"text": text})
            return response.status_code, time.perf_counter() - started

        return await asyncio.gather(*(one() for _ in range(clients)))


def run(model_dir: Path, max_batch_chars: int, clients: int) -> list[tuple[int, float]]:
    with inference_platform(
        model_dir,
        "budget",
        PRELOAD_MODELS="course-extractor",
        MAX_BATCH_SIZE="32",
        MAX_BATCH_CHARS=str(max_batch_chars),
    ) as platform:
        text = long_text(get_settings().max_text_chars)
        return asyncio.run(send_all_at_once(platform.api_url, text, clients))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=positive_int, default=32)
    parser.add_argument("--model-dir", type=Path, default=get_settings().model_dir)
    parser.add_argument(
        "--budgets",
        type=positive_int,
        nargs="+",
        default=None,
        help=f"MAX_BATCH_CHARS values to run (default: the setting's, then {NO_BUDGET}: none)",
    )
    args = parser.parse_args()
    exit_unless_served(args.model_dir, [ModelName.COURSE_EXTRACTOR])
    settings = get_settings()
    print(
        f"{args.clients} texts of {settings.max_text_chars} chars at once; "
        f"INFERENCE_TIME_LIMIT={settings.inference_time_limit} s"
    )
    print(f"{'MAX_BATCH_CHARS':>16} {'answered':>9} {'p50 s':>7} {'slowest s':>10}  statuses")
    answered_any = False
    for budget in args.budgets or (settings.max_batch_chars, NO_BUDGET):
        results = run(args.model_dir, budget, args.clients)
        answered = [seconds for status, seconds in results if status == 200]
        statuses = sorted({status for status, _ in results})
        p50 = statistics.median(answered) if answered else float("nan")
        slowest = max(answered) if answered else float("nan")
        label = "none" if budget == NO_BUDGET else str(budget)
        print(f"{label:>16} {len(answered):>9} {p50:7.1f} {slowest:10.1f}  {statuses}")
        answered_any = answered_any or bool(answered)
    if not answered_any:
        raise SystemExit("no request was answered 200: see the statuses above")


if __name__ == "__main__":
    main()
