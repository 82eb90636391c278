from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from ragline.api.deps import CollectionName, ServiceDep
from ragline.api.models import ImportPublic, Problem
from ragline.api.uploads import stream_upload
from ragline.stores.archive import MEDIA_TYPE
from ragline.tenancy import display

router = APIRouter(prefix="/v1/collections/{collection}", tags=["archives"])


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "The collection archive (README, Export and import)."}, 404: {"model": Problem}},
)
async def export_collection(collection: CollectionName, service: ServiceDep) -> StreamingResponse:
    """The collection's indexed documents as one archive: originals, chunks with their metadata and
    vectors, the embedding model, a format version and a checksummed manifest. Streamed as it is read."""
    export = await run_in_threadpool(service.archives.open_export, collection)
    headers = {
        "Content-Disposition": f'attachment; filename="{display(collection)}.ragline.tar"',
        "Cache-Control": "private, no-store",
        "X-Ragline-Documents": str(export.header.document_count),
        "X-Ragline-Chunks": str(export.header.chunk_count),
    }
    return StreamingResponse(export.stream(), media_type=MEDIA_TYPE, headers=headers)


@router.post(
    "/import",
    status_code=202,
    response_model=ImportPublic,
    responses={status: {"model": Problem} for status in (400, 409, 413, 422, 503)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}
                }
            },
        }
    },
)
async def import_collection(collection: CollectionName, request: Request, service: ServiceDep) -> JSONResponse:
    """Fill an empty collection from an archive (multipart field `file`) made by an export, without
    re-embedding. 202 with a job: it verifies the whole archive, then writes it; follow it at `status_url`."""
    await run_in_threadpool(service.archives.check_importable, collection)
    settings = service.settings
    accepted = await service.archives.accept_import(
        collection, stream_upload(request, settings.max_import_bytes, settings.max_multipart_parts)
    )
    body = ImportPublic(
        job_id=accepted.job.job_id,
        status_url=f"/v1/jobs/{accepted.job.job_id}",
        collection=display(collection),
        filename=accepted.job.filename,
        state=accepted.job.state,
        documents=accepted.header.document_count,
        chunks=accepted.header.chunk_count,
        embedding_model=accepted.header.embedding_model,
    )
    return JSONResponse(body.model_dump(), status_code=202)
