"""Liveness and readiness. Both run on the event loop, never in the request thread pool, and neither
touches a socket: a stalled dependency can fill the pool, but cannot fail a liveness probe."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ragline.api.models import Problem, Readiness
from ragline.api.problems import problem_response
from ragline.errors import ErrorCode

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Dependencies are /readyz's business."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Problem}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: Redis, Chroma and the blob store answered the background probe's last check (made every 2 s).
    A 503 names the dependency that did not, and why."""
    checks = request.app.state.probe.checks()
    failing = {name: state for name, state in checks.items() if state != "ok"}
    if failing:
        code = ErrorCode.DEPENDENCY_UNAVAILABLE
        detail = "; ".join(f"{name} {state}" for name, state in failing.items())
        return problem_response(code.http_status, code.code, detail, checks=checks)
    return JSONResponse({"status": "ready", "checks": checks})
