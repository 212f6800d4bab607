"""Start the whole platform on one machine: Redis, API, workers, Flower (``python -m launcher``)."""
