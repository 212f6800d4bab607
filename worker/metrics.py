"""Prometheus metrics of a worker process, served on the port the settings give.

Batch sizes, generated tokens and their rate, model load times and, on a GPU, memory in use.
"""

from __future__ import annotations

import logging

import torch
from prometheus_client import Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

BATCH_SIZE = Histogram(
    "worker_batch_size", "Inputs per batched forward pass", ["model"], buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)
BATCH_SECONDS = Histogram("worker_batch_seconds", "Seconds per batch", ["model"])
TOKENS = Counter("worker_generated_tokens", "Tokens (llm) or words (bigram, rnn) generated", ["model"])
TOKENS_PER_SECOND = Gauge(
    "worker_generation_tokens_per_second", "Generation rate of the last batch", ["model"]
)
MODEL_LOAD_SECONDS = Gauge("worker_model_load_seconds", "Seconds the last load of a model took", ["model"])
MODEL_LOADS = Counter("worker_model_loads", "Model (re)loads", ["model"])
GPU_MEMORY = Gauge("worker_gpu_memory_allocated_bytes", "CUDA memory allocated by this process")


def record_batch(model: str, size: int, seconds: float, generated: int) -> None:
    BATCH_SIZE.labels(model).observe(size)
    BATCH_SECONDS.labels(model).observe(seconds)
    if generated:
        TOKENS.labels(model).inc(generated)
        TOKENS_PER_SECOND.labels(model).set(generated / seconds if seconds > 0 else 0.0)
    if torch.cuda.is_initialized():
        GPU_MEMORY.set(torch.cuda.memory_allocated())


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
