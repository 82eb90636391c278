"""The ingest worker: extract -> split -> embed and upsert, one Celery chain per document.

Run with: celery -A ragline.worker.ingest worker -Q ingest --concurrency 1 --prefetch-multiplier 1
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from celery import Task
from celery.signals import worker_process_init

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.extract import iter_pages, open_pdf, require_text
from ragline.pipeline.index import index_chunks
from ragline.pipeline.split import Chunk, chunk_id, split_pages
from ragline.stores.jobs import Job
from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE
from ragline.stores.vectors import ChunkRecord
from ragline.worker import names
from ragline.worker.celery_app import make_celery
from ragline.worker.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

app = make_celery("ingest")
runtime = WorkerRuntime()

# Pages between two progress writes: often enough for a live bar, rare enough to cost nothing.
PROGRESS_EVERY_PAGES = 10
MAX_RETRIES = 5
MAX_BACKOFF_SECONDS = 30


@worker_process_init.connect
def _load_model(**_: object) -> None:
    runtime.embedder  # noqa: B018 - load in the child, after the fork, before the first task


class IngestTask(Task):
    max_retries = MAX_RETRIES


@contextmanager
def _stage(task: Task, job: Job, stage: str) -> Iterator[None]:
    """Record the stage and its duration; retry when a dependency is away, fail the job otherwise."""
    started = time.perf_counter()
    runtime.jobs.start_stage(job.job_id, stage)
    runtime.documents.update(job.collection, job.document_id, state="running")
    try:
        yield
    except RaglineError as exc:
        if exc.code is ErrorCode.DEPENDENCY_UNAVAILABLE and task.request.retries < task.max_retries:
            raise _retry(task, exc) from exc
        _fail(job, exc.code.code, exc.detail)
        raise
    except REDIS_UNAVAILABLE as exc:
        raise _retry(task, exc) from exc
    except Exception as exc:
        _fail(job, ErrorCode.INTERNAL.code, f"{stage} failed: {type(exc).__name__}: {exc}")
        raise
    runtime.jobs.update(job.job_id, timings={stage: round(time.perf_counter() - started, 3)})


def _retry(task: Task, exc: Exception) -> Exception:
    countdown = min(2**task.request.retries, MAX_BACKOFF_SECONDS)
    logger.warning("ingest dependency unavailable, retrying retry=%s countdown=%s error=%s", task.request.retries, countdown, exc)
    return task.retry(exc=exc, countdown=countdown)


def _fail(job: Job, code: str, detail: str) -> None:
    logger.warning("ingest failed job_id=%s document_id=%s code=%s detail=%s", job.job_id, job.document_id, code, detail)
    runtime.jobs.fail(job.job_id, code, detail)
    # The job keeps the reason; the collection lists only documents it holds or is ingesting.
    runtime.documents.remove(job.collection, job.document_id)
    runtime.artifacts.discard(job.job_id)
    try:
        # A half-indexed document must not answer questions.
        runtime.index.delete_document(job.collection, job.document_id)
    except RaglineError:
        logger.warning("could not remove partial chunks document_id=%s", job.document_id)


def _load_job(job_id: str) -> Job:
    job = runtime.jobs.get(job_id)
    if job is None:
        raise RaglineError(ErrorCode.NOT_FOUND, f"job {job_id} does not exist (expired?)")
    return job


@app.task(name=names.PDF_READER_TASK, bind=True, base=IngestTask)
def pdf_reader_task(self: Task, job_id: str) -> str:
    """Extract the text of every page into Redis for the splitter."""
    job = _load_job(job_id)
    with _stage(self, job, "extract"):
        data = runtime.artifacts.get_blob(job_id)
        if data is None:
            raise RaglineError(ErrorCode.INVALID_UPLOAD, "the uploaded file expired before ingest started; upload it again")
        document = open_pdf(data)
        runtime.jobs.update(job_id, pages_total=document.page_count)
        pages = []
        for page in iter_pages(document):
            pages.append(page)
            if page.page % PROGRESS_EVERY_PAGES == 0:
                runtime.jobs.advance(job_id, pages_done=page.page)
        document.close()
        require_text(pages)
        runtime.jobs.advance(job_id, pages_done=len(pages))
        runtime.artifacts.put_pages(job_id, pages)
    return job_id


@app.task(name=names.TEXT_SPLITTER_TASK, bind=True, base=IngestTask)
def text_splitter_task(self: Task, job_id: str) -> str:
    """Split the extracted pages into chunks that each stay on one page."""
    job = _load_job(job_id)
    with _stage(self, job, "split"):
        pages = runtime.artifacts.get_pages(job_id)
        if pages is None:
            raise RaglineError(ErrorCode.INTERNAL, "the extracted pages expired before splitting")
        settings = runtime.settings
        chunks = split_pages(pages, settings.chunk_size, settings.chunk_overlap)
        runtime.artifacts.put_chunks(job_id, chunks)
        runtime.jobs.update(job_id, chunks_total=len(chunks))
    return job_id


@app.task(name=names.VECTORSTORE_TASK, bind=True, base=IngestTask)
def vectorstore_task(self: Task, job_id: str) -> str:
    """Embed the chunks and upsert them into the collection under deterministic ids."""
    job = _load_job(job_id)
    with _stage(self, job, "index"):
        chunks = runtime.artifacts.get_chunks(job_id)
        if chunks is None:
            raise RaglineError(ErrorCode.INTERNAL, "the split chunks expired before indexing")
        embedder = runtime.embedder
        runtime.index.check_model(job.collection, embedder.name)

        def store(batch: Sequence[Chunk], vectors: list[list[float]]) -> None:
            records = [ChunkRecord.of(job.document_id, job.filename, chunk) for chunk in batch]
            runtime.index.upsert(job.collection, embedder.name, records, vectors)

        index_chunks(
            chunks,
            embed=embedder.embed_documents,
            store=store,
            batch_size=runtime.settings.embedding_batch_size,
            on_batch=lambda done: runtime.jobs.advance(job_id, chunks_done=done),
        )
        # Chunks left from an earlier ingest with other split settings would otherwise linger.
        current = {chunk_id(job.document_id, chunk) for chunk in chunks}
        stale = [cid for cid in runtime.index.chunk_ids(job.collection, job.document_id) if cid not in current]
        runtime.index.delete_chunks(job.collection, stale)
    pages_total = runtime.jobs.get(job_id).pages_total  # type: ignore[union-attr]
    runtime.documents.update(job.collection, job.document_id, state="done", pages=pages_total, chunks=len(chunks))
    runtime.documents.bump_generation(job.collection)
    runtime.artifacts.keep_file(job_id, job.collection, job.document_id)
    runtime.artifacts.discard(job_id)
    runtime.jobs.finish(job_id)
    logger.info("ingest done job_id=%s document_id=%s chunks=%s", job_id, job.document_id, len(chunks))
    return job_id

