"""The API process: validates, stores uploads, records jobs, enqueues work and answers. No ML here.

Run with: uvicorn ragline.api.app:create_app --factory --host 0.0.0.0 --port 8000
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from ragline import __version__
from ragline.api.problems import install_problem_handlers
from ragline.api.routes import documents, health, jobs, query, seed
from ragline.api.service import RaglineService
from ragline.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="ragline",
        version=__version__,
        description="Upload PDFs, ask questions, get answers that cite document and page.",
    )
    app.state.service = RaglineService(settings or get_settings())
    install_problem_handlers(app)
    for module in (health, documents, jobs, query, seed):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
