"""Collection archives: an export streams out of the stores as it is read; an import is staged in the
blob store while it uploads, then an ingest worker verifies and writes it as a job (worker/ingest.py,
import_archive_task). Neither holds an archive in memory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from ragline.api.service.admission import Admission
from ragline.api.uploads import Upload
from ragline.errors import ErrorCode, RaglineError
from ragline.stores.archive import ArchiveHeader, read_header, require_compatible
from ragline.stores.bundle import Stores
from ragline.stores.jobs import Job, new_job_id
from ragline.stores.portability import STAGED_PART_BYTES, CollectionExport, discard_staged, expected_dimension, stage_part
from ragline.tasks import names
from ragline.tasks.flows import send_import
from ragline.tasks.messages import ImportJob, TenantQuota
from ragline.tenancy import display

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcceptedImport:
    job: Job
    header: ArchiveHeader


class ArchiveService:
    def __init__(self, stores: Stores, admission: Admission, celery) -> None:  # noqa: ANN001 - celery.Celery
        self._stores = stores
        self._admission = admission
        self._celery = celery

    def open_export(self, collection: str) -> CollectionExport:
        return CollectionExport.of(self._stores, collection)

    def check_importable(self, collection: str) -> None:
        """Refuse before the archive uploads: a collection that holds documents, a full ingest queue."""
        if self._stores.documents.count(collection):
            raise _not_empty(collection)
        self._admission.admit(names.INGEST_QUEUE)

    async def accept_import(self, collection: str, uploads: AsyncIterator[Upload]) -> AcceptedImport:
        """Stage the uploaded archive part by part and queue its import. Refused as soon as its first
        part arrives when its header names another embedding model or dimension, or a newer format."""
        job_id = new_job_id()
        parts, pending, filename = 0, bytearray(), ""
        header: ArchiveHeader | None = None

        async def stage(data: bytes) -> None:
            nonlocal parts, header
            if header is None:
                header = await run_in_threadpool(self._compatible_header, collection, data)
            await run_in_threadpool(stage_part, self._stores, job_id, parts, data)
            parts += 1

        try:
            async for upload in uploads:
                filename = upload.filename
                pending += upload.data
                if len(pending) >= STAGED_PART_BYTES:
                    await stage(bytes(pending))
                    pending.clear()
            if pending:
                await stage(bytes(pending))
            if header is None:
                raise RaglineError(ErrorCode.EMPTY_UPLOAD, "the archive is empty")
            job = Job(
                job_id=job_id, document_id="", collection=collection, filename=filename, kind="import",
                chunks_total=header.chunk_count, pages_total=header.page_count,
            )
            await run_in_threadpool(self._queue, job)
        except BaseException:
            await run_in_threadpool(discard_staged, self._stores, job_id)
            raise
        logger.info("import accepted job_id=%s collection=%s parts=%s chunks=%s", job_id, collection, parts, header.chunk_count)
        return AcceptedImport(job, header)

    def _compatible_header(self, collection: str, first_part: bytes) -> ArchiveHeader:
        header = read_header(first_part)
        require_compatible(header, self._stores.settings.embedding_model_name, expected_dimension(self._stores, collection))
        return header

    def _queue(self, job: Job) -> None:
        # Documents may have arrived while the archive uploaded; the worker's claim checks again, atomically.
        if self._stores.documents.count(job.collection):
            raise _not_empty(job.collection)
        message = self._import_job(job.job_id)
        job.request = message.model_dump_json()
        self._stores.jobs.create(job)
        try:
            send_import(self._celery, message)
        except Exception as exc:
            self._stores.jobs.fail(job.job_id, ErrorCode.DEPENDENCY_UNAVAILABLE.code, f"the import could not be queued: {exc}")
            raise

    def _import_job(self, job_id: str) -> ImportJob:
        """What the import depends on, from this process's settings: the model and the tenant's quota."""
        quota = self._stores.quota
        return ImportJob(
            job_id=job_id,
            embedding_model=self._stores.settings.embedding_model_name,
            quota=TenantQuota(documents=quota.documents, pages=quota.pages, size_bytes=quota.size_bytes),
        )


def _not_empty(collection: str) -> RaglineError:
    return RaglineError(
        ErrorCode.COLLECTION_NOT_EMPTY,
        f"collection '{display(collection)}' already holds documents; import into a new or empty collection",
    )
