from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from ragline.api.deps import JobId, PrincipalDep, ServiceDep
from ragline.api.models import JobProgress, JobPublic, Problem
from ragline.stores.jobs import Job
from ragline.tenancy import display

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

EVENT_POLL_SECONDS = 0.5


@router.get("/{job_id}", response_model=JobPublic, responses={404: {"model": Problem}})
def get_job(job_id: JobId, service: ServiceDep, principal: PrincipalDep) -> JobPublic:
    job = service.documents.get_job(job_id, principal.tenant)
    return job_public(job, service.documents.waiting_for_worker(job))


@router.get(
    "/{job_id}/events",
    responses={200: {"content": {"text/event-stream": {}}}, 404: {"model": Problem}},
    response_class=StreamingResponse,
)
def job_events(job_id: JobId, service: ServiceDep, principal: PrincipalDep) -> StreamingResponse:
    """Server-Sent Events: a `progress` event on every change, then one `done` or `failed` event."""
    first = service.documents.get_job(job_id, principal.tenant)

    async def events() -> AsyncIterator[str]:
        job, last = first, ""
        while True:
            waiting = await run_in_threadpool(service.documents.waiting_for_worker, job)
            payload = job_public(job, waiting).model_dump_json()
            if payload != last:
                event = job.state if job.state in ("done", "failed") else "progress"
                yield f"event: {event}\ndata: {payload}\n\n"
                last = payload
                if event != "progress":
                    return
            await asyncio.sleep(EVENT_POLL_SECONDS)
            job = await run_in_threadpool(service.documents.get_job, job_id, principal.tenant)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def job_public(job: Job, waiting_for_worker: bool) -> JobPublic:
    timings = dict(job.timings)
    if job.finished_at is not None:
        timings["total"] = round(job.finished_at - job.created_at, 3)
    return JobPublic(
        job_id=job.job_id,
        document_id=job.document_id,
        collection=display(job.collection),
        filename=job.filename,
        state=job.state,
        stage=job.stage,
        progress=JobProgress(
            pages_done=job.pages_done,
            pages_total=job.pages_total,
            chunks_done=job.chunks_done,
            chunks_total=job.chunks_total,
            chunks_embedded=job.chunks_embedded,
            pages_ocr=job.pages_ocr,
        ),
        waiting_for_worker=waiting_for_worker,
        kind=job.kind,
        error=job.error,
        error_code=job.error_code,
        timings=timings,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )

