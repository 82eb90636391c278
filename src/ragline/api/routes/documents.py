from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ragline.api.deps import CollectionName, DocumentId, ServiceDep
from ragline.api.models import DocumentPublic, Problem, UploadPublic
from ragline.api.service.documents import Accepted
from ragline.api.uploads import read_upload
from ragline.pipeline.sniff import MEDIA_TYPES, Format

router = APIRouter(prefix="/v1/collections/{collection}/documents", tags=["documents"])

UPLOAD_ERRORS = {status: {"model": Problem} for status in (400, 409, 413, 415, 422, 503)}


@router.post(
    "",
    status_code=202,
    response_model=UploadPublic,
    responses={200: {"model": UploadPublic, "description": "These bytes are already in the collection."}, **UPLOAD_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def upload_document(collection: CollectionName, request: Request, service: ServiceDep) -> JSONResponse:
    """Upload one document (multipart field `file`); ingest runs in the background. Poll `status_url`.

    Accepted, judged by the bytes and not the name: PDF, DOCX, PPTX, XLSX, CSV, HTML, Markdown, plain text
    (UTF-8), EPUB, PNG, JPEG and TIFF. Anything else is a 415 `unsupported_format`; a file named .pdf
    that is not a PDF, 415 `not_a_pdf`.
    """
    upload = await read_upload(request, service.settings.max_upload_bytes, service.settings.max_multipart_parts)
    accepted = await run_in_threadpool(service.documents.accept_upload, collection, upload.filename, upload.data)
    return upload_response(accepted)


@router.get("", response_model=list[DocumentPublic])
def list_documents(collection: CollectionName, service: ServiceDep) -> list[DocumentPublic]:
    return [DocumentPublic(**vars(record)) for record in service.documents.list_documents(collection)]


@router.delete("/{document_id}", status_code=204, responses={404: {"model": Problem}, 409: {"model": Problem}})
def delete_document(collection: CollectionName, document_id: DocumentId, service: ServiceDep) -> Response:
    """Remove the document's chunks from the collection; answers cached before this go stale."""
    service.documents.delete_document(collection, document_id)
    return Response(status_code=204)


@router.get(
    "/{document_id}/file",
    response_class=Response,
    responses={200: {"content": {media_type: {} for media_type in MEDIA_TYPES.values()}}, 404: {"model": Problem}},
)
def download_document(collection: CollectionName, document_id: DocumentId, service: ServiceDep) -> Response:
    """The original file of an indexed document, as uploaded (the UI renders cited PDF pages from it)."""
    record, data = service.documents.document_file(collection, document_id)
    return Response(data, media_type=Format(record.format).media_type, headers=file_headers(record.filename))


def file_headers(filename: str) -> dict[str, str]:
    """Headers that keep an uploaded file from acting as a page of this origin, whatever its bytes are.

    A download (attachment), never rendered inline; the type as declared (nosniff); and, opened anyway,
    a sandbox without scripts, forms or same-origin access. The name goes as RFC 6266 / RFC 5987
    `filename*`, with an ASCII fallback stripped of quotes, backslashes and control characters.
    """
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in filename) or "document.pdf"
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
    }


def upload_response(accepted: Accepted) -> JSONResponse:
    body = UploadPublic(
        job_id=accepted.job.job_id,
        document_id=accepted.record.document_id,
        status_url=f"/v1/jobs/{accepted.job.job_id}",
        filename=accepted.record.filename,
        state=accepted.record.state,
        duplicate=accepted.duplicate,
    )
    status = 200 if accepted.duplicate and accepted.record.state == "done" else 202
    return JSONResponse(body.model_dump(), status_code=status)
