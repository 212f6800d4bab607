"""Prometheus metrics of a worker process, served on the port the settings give.

Batch sizes, generated tokens and their rate, model load times and, on a GPU, memory in use.
"""

from __future__ import annotations

import logging

import torch
from prometheus_client import Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

# Up to MAX_BATCH_SIZE's ceiling, and to past INFERENCE_TIME_LIMIT's default (25 s): the default
# buckets end at 10 s, where an LLM batch on a CPU often is.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
BATCH_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)
BATCH_SIZE = Histogram(
    "worker_batch_size", "Inputs per batched forward pass", ["model"], buckets=BATCH_SIZE_BUCKETS
)
BATCH_SECONDS = Histogram(
    "worker_batch_seconds", "Seconds per batch", ["model"], buckets=BATCH_SECONDS_BUCKETS
)
TOKENS = Counter("worker_generated_tokens", "Tokens (llm) or words (bigram, rnn) generated", ["model"])
TOKENS_PER_SECOND = Gauge(
    "worker_generation_tokens_per_second", "Generation rate of the last batch", ["model"]
)
MODEL_LOAD_SECONDS = Gauge("worker_model_load_seconds", "Seconds the last load of a model took", ["model"])
MODEL_LOADS = Counter("worker_model_loads", "Model (re)loads", ["model"])
GPU_MEMORY = Gauge("worker_gpu_memory_allocated_bytes", "CUDA memory allocated by this process")
# read at each scrape: set after each batch only, it missed the loads and unloads between them
GPU_MEMORY.set_function(lambda: torch.cuda.memory_allocated() if torch.cuda.is_initialized() else 0)


def record_batch(model: str, size: int, seconds: float, generated: int) -> None:
    BATCH_SIZE.labels(model).observe(size)
    BATCH_SECONDS.labels(model).observe(seconds)
    if generated:
        TOKENS.labels(model).inc(generated)
        TOKENS_PER_SECOND.labels(model).set(generated / seconds if seconds > 0 else 0.0)


def record_load(model: str, seconds: float) -> None:
    MODEL_LOADS.labels(model).inc()
    MODEL_LOAD_SECONDS.labels(model).set(seconds)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    if port == 0:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as error:
        logger.warning("worker metrics not served on %s:%d: %s", host, port, error)
        return
    logger.info("worker metrics on http://%s:%d/metrics", host, port)
