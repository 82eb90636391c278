"""The seed project's demo endpoints, kept for the scripts that call them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ragline.api.deps import PrincipalDep, ServiceDep, principal
from ragline.api.models import COLLECTION_PATTERN, Problem, TaskStatus, TaskSubmitted, UploadPublic
from ragline.api.routes.documents import upload_response
from ragline.tasks import names
from ragline.tenancy import scope

router = APIRouter(tags=["seed demo"], dependencies=[Depends(principal)])

TASK_ID_PATTERN = r"^[0-9a-fA-F-]{32,36}$"


@router.post("/add/{x}/{y}", response_model=TaskSubmitted)
def add(x: int, y: int, service: ServiceDep, caller: PrincipalDep) -> TaskSubmitted:
    return TaskSubmitted(task_id=service.seed.submit_demo_task(names.ADD_NUMBERS_TASK, x, y, caller.tenant))


@router.post("/divide/{x}/{y}", response_model=TaskSubmitted)
def divide(x: int, y: int, service: ServiceDep, caller: PrincipalDep) -> TaskSubmitted:
    """Dividing by zero is allowed here: the task then ends FAILED with the reason."""
    return TaskSubmitted(task_id=service.seed.submit_demo_task(names.DIVIDE_NUMBERS_TASK, x, y, caller.tenant))


@router.get("/task-status/{task_id}", response_model=TaskStatus, responses={404: {"model": Problem}})
def task_status(task_id: Annotated[str, Path(pattern=TASK_ID_PATTERN)], service: ServiceDep, caller: PrincipalDep) -> TaskStatus:
    """The state of a demo task this tenant sent; any other task id is unknown (404)."""
    return TaskStatus(**service.seed.task_status(task_id, caller.tenant))


@router.post(
    "/rag-individual-tasks/",
    status_code=202,
    response_model=UploadPublic,
    responses={status: {"model": Problem} for status in (400, 404, 409, 422)},
)
async def rag_individual_tasks(
    filename: Annotated[str, Query(min_length=1, max_length=255, description="A PDF in the server's data folder.")],
    service: ServiceDep,
    caller: PrincipalDep,
    collection: Annotated[str, Query(pattern=COLLECTION_PATTERN)] = "default",
) -> JSONResponse:
    """Ingest a PDF that is already in the server's data folder (RAGLINE_DATA_DIR/pdfs)."""
    accepted = await run_in_threadpool(service.documents.accept_data_file, scope(caller.tenant, collection), filename)
    return upload_response(accepted)
