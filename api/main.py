"""Build the FastAPI application. It validates, enqueues and waits; it never loads a model."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import metrics
from api.auth import OPEN_PATHS, KeyRequiredMiddleware, authenticate
from api.body_limit import BodySizeLimitMiddleware
from api.errors import COMMON_ERRORS, install_error_handlers
from api.head_limit import HeadSizeLimitMiddleware
from api.host_check import HOST_REFUSED, LoopbackHostMiddleware
from api.metrics import RequestMetricsMiddleware, install_job_metrics
from api.path_slashes import TrailingSlashMiddleware
from api.routes import extraction, generation, health, jobs, models
from api.stop_signal import ServerStop
from api.wait_slots import ScanSlots, WaitSlots
from shared.celery_app import create_celery_app
from shared.config import LOOPBACK_HOSTS, get_settings
from shared.job_store import AsyncJobStore
from shared.logging_setup import configure_logging

logger = logging.getLogger(__name__)


async def index_older_jobs(store: AsyncJobStore) -> None:
    """In the background, so that the API starts even while Redis is down (tried again at the
    next start)."""
    try:
        added = await store.index_older_jobs()
    except Exception as error:  # the API serves on; GET /jobs misses older jobs until then
        logger.warning("older jobs not added to the per-owner indexes yet: %s", error)
        return
    if added:
        logger.info("added %d older jobs to the per-owner indexes", added)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.job_store = AsyncJobStore.from_url(settings.redis_url, settings.result_ttl)
    app.state.celery = create_celery_app(settings=settings)
    app.state.wait_slots = WaitSlots(settings.max_waits_per_key)
    app.state.scan_slots = ScanSlots()
    app.state.server_stop = ServerStop().listen()  # waits for jobs end soon after a stop signal
    install_job_metrics(settings.redis_url)
    indexing = asyncio.create_task(index_older_jobs(app.state.job_store))
    yield
    indexing.cancel()
    app.state.server_stop.close()
    await app.state.job_store.close()


def create_app() -> FastAPI:
    configure_logging()
    settings = get_settings()
    checks_host = not settings.api_keys and settings.api_host in LOOPBACK_HOSTS  # `make run`: no key needed
    app = FastAPI(
        title="Job-queue inference platform",
        description=(
            "Course-name extraction and three text generators behind a Redis job queue. "
            "Synchronous endpoints wait for their job up to SYNC_TIMEOUT; `POST /jobs` answers at once."
        ),
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(authenticate)],
        responses=COMMON_ERRORS | (HOST_REFUSED if checks_host else {}),
    )
    docs = {app.docs_url, app.redoc_url, app.openapi_url, app.swagger_ui_oauth2_redirect_url}
    # the last added runs first: a head too large, then a missing key (401 before a 413 tells a
    # caller without a key the body's limit), then the body's size
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(KeyRequiredMiddleware, open_paths=OPEN_PATHS | {path for path in docs if path})
    app.add_middleware(HeadSizeLimitMiddleware)
    if checks_host:
        app.add_middleware(LoopbackHostMiddleware, allowed_hosts=settings.api_allowed_hosts)
    app.add_middleware(RequestMetricsMiddleware)
    install_error_handlers(app)
    routers = [module.router for module in (jobs, extraction, generation, models, health, metrics)]
    for router in routers:
        app.include_router(router)
    # added last, so it runs first: every other middleware sees the path as the routes name it
    paths = [getattr(route, "path", "/") for router in routers for route in router.routes]
    app.add_middleware(TrailingSlashMiddleware, paths=paths)
    return app


app = create_app()
