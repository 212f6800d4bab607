"""What do streamed tokens cost a batch? Written by the batch's own thread against by the writer's.

Starts a private Redis, loads the served LLM as the inference worker does, and runs one batch of
``--rows`` rows of ``--length`` tokens: streaming none, each token written to its job's event stream
by the batcher's thread as it is made (as the worker did before ``TokenStreamWriter``), and each
handed to the writer's thread. Prints the seconds until the batch returns and until every token is
in Redis, then the same with Redis holding writes for ``--stall`` seconds as the batch starts.

    python -m bench.stream_writes [--rows 32] [--length 32] [--stall 2]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from launcher.local_platform import Platform, base_env
from shared.config import get_settings
from shared.job_store import AsyncJobStore, JobRecord, JobStore, now_iso
from shared.jobs import JobStatus, JobType, Queue
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training.cli import command_name
from training.device import get_device
from worker.predictors.llm import LLMPredictor
from worker.token_stream import TokenStreamWriter

MODES = {"none": "no row streams", "batcher": "batcher's thread writes", "writer": "writer's thread writes"}


def running_jobs(store: JobStore, redis_url: str, count: int) -> list[str]:
    """Generate jobs recorded as the API does, then started as a worker does."""
    records = [
        JobRecord(
            job_id=uuid.uuid4().hex,
            type=JobType.GENERATE,
            status=JobStatus.QUEUED,
            queue=Queue.INFERENCE,
            input={"model": "llm", "start_word": "Once upon a time", "stream": True},
            created_at=now_iso(),
        )
        for _ in range(count)
    ]

    async def create() -> None:
        api_store = AsyncJobStore.from_url(redis_url, ttl=600)
        try:
            for record in records:
                await api_store.create(record)
        finally:
            await api_store.close()

    asyncio.run(create())
    for record in records:
        store.start(record.job_id, worker="bench")
    return [record.job_id for record in records]


def timed_batch(
    llm: LLMPredictor, store: JobStore, redis_url: str, args: argparse.Namespace, mode: str, stall: float
) -> tuple[float, float]:
    """Seconds until the batch returned, and until every token was in Redis; ``mode`` says who
    writes the tokens: "none" (no row streams), "batcher" or "writer"."""
    jobs = running_jobs(store, redis_url, args.rows)
    rows = [
        {"start_word": "Once upon a time", "length": args.length, "seed": row} for row in range(args.rows)
    ]
    streams = TokenStreamWriter(store) if mode == "writer" else None
    senders = [streams.sender(job) for job in jobs] if streams else []

    def on_token(row: int, piece: str) -> None:
        if streams:
            senders[row](piece)
        else:
            store.add_event(jobs[row], {"type": "token", "text": piece})

    if stall:
        store.client.execute_command("CLIENT", "PAUSE", int(stall * 1000), "WRITE")
    started = time.perf_counter()
    llm.predict_batch(rows, on_token=None if mode == "none" else on_token)
    returned = time.perf_counter() - started
    for job in jobs if streams else []:
        streams.flush(job, timeout=120)
    if stall and mode == "none":
        store.client.execute_command("CLIENT", "UNPAUSE")
    return returned, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=32, help="streaming rows in the batch")
    parser.add_argument("--length", type=int, default=32, help="tokens each row generates")
    parser.add_argument("--stall", type=float, default=2.0, help="seconds Redis holds writes (stall runs)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the fastest is shown")
    args = parser.parse_args()

    version = ModelStore(get_settings().model_dir).served_version(ModelName.LLM)
    if version is None:
        raise SystemExit("no LLM version in MODEL_DIR: run `make models` first")
    llm = LLMPredictor(version, get_device())
    llm.predict_batch([{"start_word": "Once", "length": 2}])  # warm-up
    platform = Platform(Path(tempfile.mkdtemp(prefix="bench-stream-")), base_env(get_settings().model_dir))
    try:
        platform.start_redis()
        store = JobStore.from_url(platform.redis_url, ttl=600)
        print(f"{args.rows} rows x {args.length} tokens on {llm.device}")
        print(f"{'':44} {'batch returned':>15} {'all tokens in Redis':>20}")
        for stall in (0.0, args.stall):
            runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
            for _ in range(args.repeats):  # the modes in turn, so that drift hits each alike
                for mode in MODES:
                    runs[mode].append(timed_batch(llm, store, platform.redis_url, args, mode, stall))
            best = {mode: min(times) for mode, times in runs.items()}
            for mode, label in MODES.items():
                label += f", Redis stalls {stall:g} s" if stall else ""
                print(f"{label:44} {best[mode][0]:>14.3f}s {best[mode][1]:>19.3f}s")
            ratio = best["batcher"][0] / best["writer"][0]
            print(f"{'batch returned, batcher / writer':44} {ratio:>14.2f}x")
            print(f"{'batch returned, writer / none':44} {best['writer'][0] / best['none'][0]:>14.2f}x")
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
