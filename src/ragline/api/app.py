"""The API process: validates, stores uploads, records jobs, enqueues work and answers. No ML here.

Run with: python -m ragline.api --host 0.0.0.0 --port 8000 (uvicorn with the bounds of api/server.py)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from ragline import __version__
from ragline.api.hardening import BodyLimitMiddleware, NoSniffMiddleware
from ragline.api.problems import UnexpectedErrorMiddleware, install_problem_handlers, install_problem_schema
from ragline.api.routes import archives, documents, health, jobs, openai_compat, query, seed
from ragline.api.service import RaglineService
from ragline.api.uploads import MULTIPART_OVERHEAD_BYTES
from ragline.config import Settings, get_settings
from ragline.stores.documents import DocumentRegistry
from ragline.stores.health import DependencyProbe
from ragline.stores.legacy_files import move_legacy_files_logged
from ragline.stores.queues import QueueLengthCollector
from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE
from ragline.tasks import names
from ragline.telemetry.api import install_api_telemetry

logger = logging.getLogger(__name__)

COLLECTION_SETS_RETRY_SECONDS = 5.0


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # /readyz and the Redis, Chroma and blob store breakers read what this probe last saw: no request waits on a
    # stalled dependency's socket to learn that it is down.
    probe: DependencyProbe = app.state.probe
    await asyncio.to_thread(probe.start)
    # Originals an older release kept in Redis move out in the background: until then they are read from Redis.
    stores = app.state.service.stores
    threading.Thread(
        target=move_legacy_files_logged, args=(stores.redis, stores.blobs), name="move-legacy-files", daemon=True
    ).start()
    threading.Thread(target=_fill_collection_sets, args=(stores.documents,), name="fill-collection-sets", daemon=True).start()
    try:
        yield
    finally:
        await asyncio.to_thread(probe.stop)


def _fill_collection_sets(documents: DocumentRegistry) -> None:
    """Collections recorded before the per-tenant sets existed get listed too: one scan per deployment,
    at start, instead of one per /v1/models. Retried while Redis is away."""
    while True:
        try:
            if listed := documents.fill_collection_sets():
                logger.info("collections sets filled collections=%s", listed)
            return
        except REDIS_UNAVAILABLE as exc:
            logger.warning("collections sets not filled yet, redis unavailable error=%s", exc)
            time.sleep(COLLECTION_SETS_RETRY_SECONDS)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="ragline",
        version=__version__,
        description="Upload PDFs, ask questions, get answers that cite document and page.",
        lifespan=_lifespan,
    )
    app.state.service = RaglineService(settings)
    app.state.probe = DependencyProbe(str(settings.redis_url), settings.chroma_url, app.state.service.stores.blobs.state)
    install_problem_handlers(app)
    install_problem_schema(app)
    # Added before telemetry, so they run inside it: their refusals are measured and carry a trace id.
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_request_bytes,
        upload_limit=settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
        import_limit=settings.max_import_bytes + MULTIPART_OVERHEAD_BYTES,
    )
    app.add_middleware(NoSniffMiddleware)
    install_api_telemetry(app, QueueLengthCollector(app.state.service.stores.redis, names.QUEUES))
    for module in (health, documents, archives, jobs, query, openai_compat, seed):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
