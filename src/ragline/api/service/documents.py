"""Documents and their ingest jobs: accept an upload (or a file of the data folder) and start its
ingest, list, delete and serve documents, read jobs."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from ragline.api.service.admission import Admission
from ragline.api.uploads import clean_filename
from ragline.domain import ACTIVE_STATES, DocumentRecord
from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.sniff import detect_format
from ragline.stores.bundle import Stores
from ragline.stores.jobs import Job, new_job_id
from ragline.tasks import names
from ragline.tasks.flows import send_ingest
from ragline.tasks.messages import IngestJob
from ragline.tenancy import belongs, display

logger = logging.getLogger(__name__)


@dataclass
class Accepted:
    job: Job
    record: DocumentRecord
    duplicate: bool


class DocumentService:
    def __init__(self, stores: Stores, admission: Admission, celery) -> None:  # noqa: ANN001 - celery.Celery
        self._stores = stores
        self._settings = stores.settings
        self._admission = admission
        self._celery = celery

    def accept_upload(self, collection: str, filename: str, data: bytes) -> Accepted:
        """Record the upload and start its ingest chain, unless the collection already has these bytes."""
        stores = self._stores
        kind = detect_format(data, filename)
        stores.index.check_model(collection, self._settings.embedding_model_name)
        document_id = hashlib.sha256(data).hexdigest()

        existing = stores.documents.get(collection, document_id)
        replaces = None
        if existing is not None and existing.state in ACTIVE_STATES:
            # Its job may be a moment from being recorded: the upload that claimed it is still at work.
            return self._duplicate(collection, existing)
        if existing is not None and existing.state == "done":
            job = stores.jobs.get(existing.job_id)
            if job is not None:
                return Accepted(job=job, record=existing, duplicate=True)
            # The record outlived its job (expired): ingest again, unless another upload already does.
            replaces = existing.job_id

        message = self._ingest_job(new_job_id())
        job = Job(
            job_id=message.job_id, document_id=document_id, collection=collection, filename=filename, format=kind.value,
            request=message.model_dump_json(),
        )
        record = DocumentRecord(
            document_id=document_id, filename=filename, job_id=job.job_id, size_bytes=len(data), format=kind.value
        )
        # One atomic step decides between concurrent uploads of the same bytes (the others get the
        # winner's job, whatever the queue's state), and charges the tenant's quota.
        claim = stores.documents.claim(collection, record, stores.quota, replaces=replaces)
        if claim.quota is not None:
            raise RaglineError(ErrorCode.QUOTA_EXCEEDED, claim.quota)
        if claim.holder is not None:
            return self._duplicate(collection, claim.holder)
        try:
            self._admission.admit(names.INGEST_QUEUE)
            stores.artifacts.put_blob(job.job_id, data)
            stores.jobs.create(job)
            send_ingest(self._celery, message)
        except Exception as exc:
            self._abandon(collection, job, exc)
            raise
        logger.info("upload accepted job_id=%s document_id=%s collection=%s bytes=%s", job.job_id, document_id, collection, len(data))
        return Accepted(job=job, record=record, duplicate=False)

    def _abandon(self, collection: str, job: Job, cause: Exception) -> None:
        """Undo a claimed upload that was refused (a full queue) or could not be sent, so the bytes can be
        uploaded again (best effort: the cause is often Redis itself being away)."""
        stores = self._stores
        try:
            stores.documents.remove(collection, job.document_id, job_id=job.job_id)
            if stores.jobs.get(job.job_id) is not None:
                stores.jobs.fail(job.job_id, ErrorCode.DEPENDENCY_UNAVAILABLE.code, f"the upload could not be queued: {cause}")
            stores.artifacts.discard(job.job_id)
        except Exception as exc:  # noqa: BLE001 - the original error is the one to report
            logger.warning("could not undo an unsent upload job_id=%s error=%s", job.job_id, exc)

    def _ingest_job(self, job_id: str) -> IngestJob:
        """Every choice the document's chunks and vectors depend on, from this process's settings."""
        settings = self._settings
        return IngestJob(
            job_id=job_id,
            embedding_model=settings.embedding_model_name,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            max_chunks=settings.max_chunks_per_document,
        )

    def _duplicate(self, collection: str, record: DocumentRecord) -> Accepted:
        """The upload that won a race for these bytes: its job may not be recorded yet, its id is."""
        job = self._stores.jobs.get(record.job_id) or Job(
            job_id=record.job_id, document_id=record.document_id, collection=collection, filename=record.filename
        )
        return Accepted(job=job, record=record, duplicate=True)

    def accept_data_file(self, collection: str, filename: str) -> Accepted:
        """The seed's ingest of a PDF already on the server, confined to the data folder."""
        folder = self._settings.pdf_dir.resolve()
        # A bare name, printable, as an upload's name would be cleaned to: no path, no NUL or control bytes.
        if "\\" in filename or clean_filename(filename) != filename:
            raise RaglineError(ErrorCode.INVALID_FILENAME, "give a bare file name from the data folder, not a path")
        path = (folder / filename).resolve()
        if path.parent != folder:
            raise RaglineError(ErrorCode.INVALID_FILENAME, "the file name leaves the data folder")
        if not path.is_file():
            raise RaglineError(ErrorCode.NOT_FOUND, f"no file named '{filename}' in the data folder")
        return self.accept_upload(collection, filename, path.read_bytes())

    def list_documents(self, collection: str) -> list[DocumentRecord]:
        return self._stores.documents.list(collection)

    def list_collections(self, tenant: str) -> list[str]:
        """Internal (tenant-scoped) names of the tenant's collections that hold documents (from its set: no scan)."""
        return self._stores.documents.collections(tenant)

    def delete_document(self, collection: str, document_id: str) -> None:
        stores = self._stores
        record = stores.documents.get(collection, document_id)
        if record is None:
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{display(collection)}' has no document {document_id}")
        if record.state in ACTIVE_STATES:
            raise RaglineError(ErrorCode.DOCUMENT_BUSY, "the document is still being ingested; delete it when its job ends")
        stores.index.delete_document(collection, document_id)
        stores.lexical.remove(collection, document_id)
        stores.artifacts.delete_file(collection, document_id)
        stores.documents.remove(collection, document_id)
        stores.documents.bump_generation(collection)

    def document_file(self, collection: str, document_id: str) -> tuple[DocumentRecord, bytes]:
        record = self._stores.documents.get(collection, document_id)
        data = self._stores.artifacts.get_file(collection, document_id) if record is not None else None
        if record is None or data is None:
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{display(collection)}' has no indexed file for document {document_id}")
        return record, data

    def waiting_for_worker(self, job: Job) -> bool:
        return job.state in ACTIVE_STATES and not self._admission.worker_alive(names.INGEST_QUEUE)

    def get_job(self, job_id: str, tenant: str) -> Job:
        job = self._stores.jobs.get(job_id)
        # Another tenant's job does not exist as far as this caller can tell.
        if job is None or not belongs(job.collection, tenant):
            raise RaglineError(ErrorCode.NOT_FOUND, f"no job {job_id}")
        return job
