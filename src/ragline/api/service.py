"""What the API does, below the routers: store uploads, record jobs, enqueue work, read state."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import httpx
import redis.asyncio
from celery import chain
from celery.result import AsyncResult

from ragline.config import Settings
from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.sniff import looks_like_pdf
from ragline.stores import keys
from ragline.stores.artifacts import ArtifactStore
from ragline.stores.documents import DocumentRecord, DocumentRegistry
from ragline.stores.jobs import ACTIVE_STATES, Job, JobStore, new_job_id
from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE
from ragline.stores.redis_client import connect, connect_async
from ragline.stores.vectors import VectorIndex
from ragline.worker import names
from ragline.worker.celery_app import make_celery

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0
# The seed's status names: Celery's SUCCESS/FAILURE read as COMPLETED/FAILED.
SEED_STATUS = {"SUCCESS": "COMPLETED", "FAILURE": "FAILED", "REVOKED": "FAILED"}


@dataclass
class Accepted:
    job: Job
    record: DocumentRecord
    duplicate: bool


class RaglineService:
    """One per API process; holds the connections every request shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def redis(self):  # noqa: ANN201 - redis.Redis
        return connect(self.settings)

    @cached_property
    def redis_async(self) -> redis.asyncio.Redis:
        return connect_async(self.settings)

    @cached_property
    def celery(self):  # noqa: ANN201 - celery.Celery
        app = make_celery("api", self.settings)
        # Fail a request fast when Redis is away instead of retrying the publish for seconds.
        app.conf.task_publish_retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
        return app

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.redis, self.settings.job_ttl_seconds)

    @cached_property
    def documents(self) -> DocumentRegistry:
        return DocumentRegistry(self.redis)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.redis, self.settings.blob_ttl_seconds, self.settings.intermediate_ttl_seconds)

    @cached_property
    def index(self) -> VectorIndex:
        return VectorIndex(self.settings.chroma_url)

    # ---- documents -------------------------------------------------------------------------

    def accept_upload(self, collection: str, filename: str, data: bytes) -> Accepted:
        """Record the upload and start its ingest chain, unless the collection already has these bytes."""
        if not data:
            raise RaglineError(ErrorCode.EMPTY_UPLOAD, "the file is empty")
        if not looks_like_pdf(data):
            raise RaglineError(ErrorCode.NOT_A_PDF, "the file is not a PDF (no %PDF- header), whatever its name")
        self.index.check_model(collection, self.settings.embedding_model_name)
        document_id = hashlib.sha256(data).hexdigest()

        existing = self.documents.get(collection, document_id)
        if existing is not None and (existing.state == "done" or existing.state in ACTIVE_STATES):
            job = self.jobs.get(existing.job_id)
            if job is not None:
                return Accepted(job=job, record=existing, duplicate=True)

        job = Job(job_id=new_job_id(), document_id=document_id, collection=collection, filename=filename)
        record = DocumentRecord(document_id=document_id, filename=filename, job_id=job.job_id)
        self.artifacts.put_blob(job.job_id, data)
        self.jobs.create(job)
        self.documents.put(collection, record)
        steps = (names.PDF_READER_TASK, names.TEXT_SPLITTER_TASK, names.VECTORSTORE_TASK)
        chain(
            *(self.celery.signature(step, args=(job.job_id,), immutable=True, queue=names.INGEST_QUEUE) for step in steps)
        ).apply_async()
        logger.info("upload accepted job_id=%s document_id=%s collection=%s bytes=%s", job.job_id, document_id, collection, len(data))
        return Accepted(job=job, record=record, duplicate=False)

    def accept_data_file(self, collection: str, filename: str) -> Accepted:
        """The seed's ingest of a PDF already on the server, confined to the data folder."""
        folder = self.settings.pdf_dir.resolve()
        if Path(filename).name != filename or filename in {".", ".."} or "\\" in filename:
            raise RaglineError(ErrorCode.INVALID_FILENAME, "give a bare file name from the data folder, not a path")
        path = (folder / filename).resolve()
        if path.parent != folder:
            raise RaglineError(ErrorCode.INVALID_FILENAME, "the file name leaves the data folder")
        if not path.is_file():
            raise RaglineError(ErrorCode.NOT_FOUND, f"no file named '{filename}' in the data folder")
        return self.accept_upload(collection, filename, path.read_bytes())

    def list_documents(self, collection: str) -> list[DocumentRecord]:
        return self.documents.list(collection)

    def delete_document(self, collection: str, document_id: str) -> None:
        record = self.documents.get(collection, document_id)
        if record is None:
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{collection}' has no document {document_id}")
        if record.state in ACTIVE_STATES:
            raise RaglineError(ErrorCode.DOCUMENT_BUSY, "the document is still being ingested; delete it when its job ends")
        self.index.delete_document(collection, document_id)
        self.artifacts.delete_file(collection, document_id)
        self.documents.remove(collection, document_id)
        self.documents.bump_generation(collection)

    def document_file(self, collection: str, document_id: str) -> tuple[DocumentRecord, bytes]:
        record = self.documents.get(collection, document_id)
        data = self.artifacts.get_file(collection, document_id) if record is not None else None
        if record is None or data is None:
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{collection}' has no indexed file for document {document_id}")
        return record, data

    def get_job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise RaglineError(ErrorCode.NOT_FOUND, f"no job {job_id}")
        return job

    # ---- questions -------------------------------------------------------------------------

    def submit_query(self, collection: str, question: str, top_k: int) -> str:
        if not self.documents.count(collection):
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{collection}' has no documents")
        request_id = uuid.uuid4().hex
        self.celery.send_task(names.QUERY_TASK, args=[collection, question, top_k], task_id=request_id, queue=names.QUERY_QUEUE)
        return request_id

    async def await_answer(self, request_id: str) -> dict:
        timeout = self.settings.query_timeout_seconds
        reply = await self.redis_async.blpop([keys.reply(request_id)], timeout=timeout)
        if reply is None:
            self.celery.control.revoke(request_id)
            raise RaglineError(ErrorCode.QUERY_TIMEOUT, f"no query worker answered within {timeout:g} s")
        payload = json.loads(reply[1])
        if "error" in payload:
            raise RaglineError(ErrorCode.from_code(payload["error"]["code"]), payload["error"]["detail"])
        return payload

    # ---- the seed's demo tasks -------------------------------------------------------------

    def submit_demo_task(self, task_name: str, x: int, y: int) -> str:
        return self.celery.send_task(task_name, args=[x, y], queue=names.DEFAULT_QUEUE).id

    def task_status(self, task_id: str) -> dict:
        result = AsyncResult(task_id, app=self.celery)
        state = result.state
        status = {"task_id": task_id, "status": SEED_STATUS.get(state, state)}
        if state == "SUCCESS":
            status["result"] = result.result
        elif state == "FAILURE":
            status["error"] = f"{type(result.result).__name__}: {result.result}"
        return status

    # ---- health ----------------------------------------------------------------------------

    def readiness(self) -> dict[str, str]:
        """Check each dependency; a failing one is reported by name with its error."""
        checks: dict[str, str] = {}
        try:
            self.redis.ping()
            checks["redis"] = "ok"
        except REDIS_UNAVAILABLE as exc:
            checks["redis"] = f"unreachable: {exc}"
        try:
            response = httpx.get(f"{self.settings.chroma_url}/api/v2/heartbeat", timeout=READINESS_TIMEOUT_SECONDS)
            checks["chroma"] = "ok" if response.status_code == 200 else f"status {response.status_code}"
        except httpx.HTTPError as exc:
            checks["chroma"] = f"unreachable: {exc}"
        return checks
