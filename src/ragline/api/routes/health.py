from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ragline.api.deps import ServiceDep
from ragline.api.models import Problem, Readiness
from ragline.api.problems import problem_response
from ragline.errors import ErrorCode

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers. Dependencies are /readyz's business."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Problem}})
def readyz(service: ServiceDep) -> JSONResponse:
    """Readiness: Redis and Chroma answer. A 503 names the dependency that does not."""
    checks = service.readiness()
    failing = {name: state for name, state in checks.items() if state != "ok"}
    if failing:
        code = ErrorCode.DEPENDENCY_UNAVAILABLE
        detail = "; ".join(f"{name} {state}" for name, state in failing.items())
        return problem_response(code.http_status, code.code, detail, checks=checks)
    return JSONResponse({"status": "ready", "checks": checks})
