"""The ingest worker: extract -> split -> embed and upsert, one Celery chain per document.

A long document is embedded in page ranges (at most RAGLINE_INGEST_CHUNKS_PER_PART chunks each),
run by every ingest process in parallel but never more than RAGLINE_INGEST_PARTS_IN_FLIGHT of one
document queued at once: each range that ends sends the next (stores/parts.py), so an upload sent
meanwhile, from any tenant, waits for a few ranges and not for the whole document.

Run with: celery -A ragline.worker.ingest worker -Q ingest --concurrency 1 --prefetch-multiplier 1
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from celery import Task, chord
from celery.signals import worker_process_init, worker_ready
from pydantic import ValidationError

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.extract import DocumentReader, ReadOptions, open_document, require_text
from ragline.pipeline.index import bounded_parts, index_chunks, page_parts
from ragline.recovery import sweep
from ragline.domain import ACTIVE_STATES, Chunk, LexicalEntry, PageText, chunk_id
from ragline.pipeline.sniff import Format
from ragline.pipeline.split import split_pages
from ragline.providers.cached import CachedEmbedder
from ragline.stores.background import BackgroundWriter
from ragline.stores.embeddings import EmbeddingCache
from ragline.stores import keys
from ragline.stores.documents import Quota
from ragline.stores.jobs import Job
from ragline.stores.portability import discard_staged, finish_import, records_of, release_imported, verify_staged, write_staged
from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE
from ragline.stores.vectors import ChunkRecord
from ragline.telemetry.instruments import ingest_stage, record_ingest_done, record_ingest_failure
from ragline.telemetry.tracing import annotate
from ragline.telemetry.worker import install_worker_telemetry, setup_worker_process
from ragline.tasks import names
from ragline.tasks.celery_app import make_celery
from ragline.tasks.flows import resend
from ragline.tasks.messages import ImportJob, IngestJob
from ragline.worker.lexical import backfill, put_segment, write_segments
from ragline.worker.presence import instance_name, track_presence
from ragline.worker.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

app = make_celery("ingest")
runtime = WorkerRuntime()


def _sweep_orphans() -> None:
    settings = runtime.settings
    sweep(
        runtime.jobs,
        runtime.workers,
        settings.worker_heartbeat_ttl_seconds,
        settings.job_stall_seconds,
        resend=_resend,
        fail=_fail,
    )


def _resend(job: Job) -> None:
    if job.request is None:
        _fail(job, ErrorCode.INTERNAL.code, "the job was recorded by an earlier version of ragline and cannot be sent again; upload the file again")
        return
    resend(app, job, job.request)


track_presence(names.INGEST_QUEUE, on_beat=_sweep_orphans)
install_worker_telemetry(names.INGEST_QUEUE, names.tasks_on(names.INGEST_QUEUE))

# Pages between two progress writes: often enough for a live bar, rare enough to cost nothing.
PROGRESS_EVERY_PAGES = 10
MAX_RETRIES = 5
MAX_BACKOFF_SECONDS = 30
PURGE_MAX_BACKOFF_SECONDS = 60


@worker_process_init.connect
def _load_model(**_: object) -> None:
    setup_worker_process(names.INGEST_QUEUE)
    runtime.embedder  # noqa: B018 - load in the child, after the fork, before the first task


class IngestTask(Task):
    max_retries = MAX_RETRIES

    def on_failure(self, exc: Exception, task_id: str, args: tuple, kwargs: dict, einfo: object) -> None:
        """A step that raised what it did not handle (a bug, a surprise from a library or a server) ends its
        job `failed` at once, instead of leaving it `running` until the stall sweep gives up on it.

        The client reads a stable code and no internals; this log has the traceback under the job id.
        """
        message = args[0] if args else None
        job_id = message.get("job_id") if isinstance(message, dict) else message
        try:
            job = runtime.jobs.get(str(job_id))
            if job is None or job.state not in ACTIVE_STATES:
                return  # failed already, with its own reason, or long gone
            if isinstance(exc, RaglineError):
                _fail(job, exc.code.code, exc.detail)
                return
            if isinstance(exc, ValidationError):
                logger.error("ingest message refused job_id=%s task=%s error=%s", job.job_id, self.name, exc)
                _fail(job, ErrorCode.INTERNAL.code, "the ingest task was sent by another version of ragline; upload the file again")
                return
            logger.error("ingest step failed job_id=%s task=%s stage=%s", job.job_id, self.name, job.stage, exc_info=exc)
            _fail(job, ErrorCode.INTERNAL.code, f"the ingest worker failed in its {job.stage} step; its log has the details under job id {job.job_id}")
        except REDIS_UNAVAILABLE as error:
            # Nowhere to write the failure now: the stall sweep fails or re-sends the job once Redis is back.
            logger.warning("ingest failure not recorded, redis unavailable job_id=%s error=%s", job_id, error)


@contextmanager
def _stage(task: Task, job: Job, stage: str) -> Iterator[None]:
    """Record the stage and its duration; retry when a dependency is away, fail the job on a RaglineError
    (anything else fails it too, in IngestTask.on_failure)."""
    started = time.perf_counter()
    with ingest_stage(stage, collection=job.collection, document_id=job.document_id, job_id=job.job_id):
        try:
            runtime.jobs.start_stage(job.job_id, stage, worker=instance_name(task.request.hostname))
            runtime.documents.update(job.collection, job.document_id, state="running")
            yield
        except RaglineError as exc:
            if exc.code is ErrorCode.DEPENDENCY_UNAVAILABLE and task.request.retries < task.max_retries:
                raise _retry(task, exc) from exc
            _fail(job, exc.code.code, exc.detail)
            raise
        except REDIS_UNAVAILABLE as exc:
            raise _retry(task, exc) from exc
        runtime.jobs.update(job.job_id, timings={stage: round(time.perf_counter() - started, 3)})
        runtime.jobs.end_stage(job.job_id)


def _retry(task: Task, exc: Exception) -> Exception:
    countdown = min(2**task.request.retries, MAX_BACKOFF_SECONDS)
    logger.warning("ingest dependency unavailable, retrying retry=%s countdown=%s error=%s", task.request.retries, countdown, exc)
    return task.retry(exc=exc, countdown=countdown)


def _fail(job: Job, code: str, detail: str) -> None:
    if job.kind == "import":
        _fail_import(job, code, detail)
        return
    logger.warning("ingest failed job_id=%s document_id=%s code=%s detail=%s", job.job_id, job.document_id, code, detail)
    record_ingest_failure(code)
    runtime.jobs.fail(job.job_id, code, detail)
    # The job keeps the reason; the collection lists only documents it holds or is ingesting.
    runtime.documents.remove(job.collection, job.document_id)
    runtime.lexical.remove(job.collection, job.document_id)
    runtime.artifacts.discard(job.job_id)
    # A half-indexed document must not answer questions: its chunks go now, or once Chroma is back.
    purge_document_task.delay(job.collection, job.document_id)


def _fail_import(job: Job, code: str, detail: str) -> None:
    """Whatever the import claimed goes: records and usage now, chunks as soon as Chroma allows. (Not
    counted as an ingest failure: the ingest metrics and their alert are about documents.)"""
    logger.warning("import failed job_id=%s collection=%s code=%s detail=%s", job.job_id, job.collection, code, detail)
    runtime.jobs.fail(job.job_id, code, detail)
    for document_id in release_imported(runtime, job.job_id, job.collection):
        runtime.lexical.remove(job.collection, document_id)
        purge_document_task.delay(job.collection, document_id)
    discard_staged(runtime, job.job_id)


def _load_job(job_id: str) -> Job:
    job = runtime.jobs.get(job_id)
    if job is None:
        raise RaglineError(ErrorCode.NOT_FOUND, f"job {job_id} does not exist (expired?)")
    return job


@app.task(name=names.PURGE_DOCUMENT_TASK, bind=True, max_retries=None)
def purge_document_task(self: Task, collection: str, document_id: str) -> None:
    """Remove the chunks of a document whose ingest failed, retrying for as long as Chroma is away."""
    if runtime.documents.get(collection, document_id) is not None:
        return  # uploaded again since: its chunks belong to the new ingest now
    try:
        runtime.index.delete_document(collection, document_id)
    except RaglineError as exc:
        if exc.code is not ErrorCode.DEPENDENCY_UNAVAILABLE:
            raise
        raise self.retry(exc=exc, countdown=min(2 ** min(self.request.retries, 6), PURGE_MAX_BACKOFF_SECONDS)) from exc


@worker_ready.connect
def _backfill_once(**_: object) -> None:
    if not runtime.redis.exists(keys.lexical_backfilled()):
        backfill_lexical_task.delay()


@app.task(name=names.BACKFILL_LEXICAL_TASK, bind=True, max_retries=None)
def backfill_lexical_task(self: Task) -> int:
    """Segments for the documents indexed before lexical segments existed (an upgraded deployment),
    read once from Chroma; until then hybrid search ranks those documents by their vectors alone."""
    try:
        written = backfill(runtime.documents, runtime.index, runtime.lexical, runtime.documents.scan_collections())
    except RaglineError as exc:
        if exc.code is not ErrorCode.DEPENDENCY_UNAVAILABLE:
            raise
        raise self.retry(exc=exc, countdown=PURGE_MAX_BACKOFF_SECONDS) from exc
    runtime.redis.set(keys.lexical_backfilled(), 1)
    logger.info("lexical segments backfilled documents=%s", written)
    return written


@app.task(name=names.PDF_READER_TASK, bind=True, base=IngestTask)
def pdf_reader_task(self: Task, message: dict) -> str:
    """Read the document's pages (a PDF's, or another format's sections) into Redis for the splitter.

    Pages that need OCR (3-5 s each) are read here when they are few; when there are more than
    RAGLINE_OCR_PAGES_PER_TASK, this task is replaced by page-range tasks, each with a time limit
    derived from its page count and run by any ingest process, then one that gathers the pages.
    """
    job_id = IngestJob.model_validate(message).job_id
    job = _load_job(job_id)
    ocr_ranges: list[list[int]] = []
    with _stage(self, job, "extract"):
        expired = RaglineError(ErrorCode.INVALID_UPLOAD, "the uploaded file expired before ingest started; upload it again")
        with _reading(job, expired) as reader:
            annotate(pages=reader.page_count)
            runtime.jobs.update(job_id, pages_total=reader.page_count)
            pages, deferred = _read_text_pages(job_id, reader)
            per_task = runtime.settings.ocr_pages_per_task
            if len(deferred) <= per_task:
                pages += _read_ocr_pages(job_id, reader, deferred, done=len(pages))
                pages.sort(key=lambda page: page.page)
                require_text(pages)
                runtime.artifacts.put_pages(job_id, pages)
            else:
                # Pages already read wait under range 0 for the OCR'd ones.
                runtime.artifacts.put_part_pages(job_id, 0, pages)
                ocr_ranges = [deferred[start : start + per_task] for start in range(0, len(deferred), per_task)]
    if not ocr_ranges:
        return job_id
    annotate(ocr_ranges=len(ocr_ranges))
    parts = [read_part_task.si(job_id, numbers).set(**_time_limits(len(numbers))) for numbers in ocr_ranges]
    # The rest of the chain (split, index) follows the gathering task.
    return self.replace(chord(parts, gather_pages_task.si(job_id)))


@app.task(name=names.READ_PART_TASK, bind=True, base=IngestTask)
def read_part_task(self: Task, job_id: str, numbers: list[int]) -> int:
    """OCR the pages `numbers` (1-based) of a document whose extract step fanned out."""
    job = _load_job(job_id)
    with _stage(self, job, "ocr"):
        expired = RaglineError(ErrorCode.INTERNAL, "the uploaded file expired before its pages were read")
        with _reading(job, expired) as reader:
            pages = [reader.read_page(number, ocr=True) for number in numbers]
        runtime.artifacts.put_part_pages(job_id, numbers[0], pages)
        runtime.jobs.count_pages(job_id, len(pages), ocr=len(pages))
    return len(pages)


@app.task(name=names.GATHER_PAGES_TASK, bind=True, base=IngestTask)
def gather_pages_task(self: Task, job_id: str) -> str:
    """Every page range is read: the pages, in order, for the splitter."""
    job = _load_job(job_id)
    with _stage(self, job, "extract"):
        pages = sorted((page for part in runtime.artifacts.get_part_pages(job_id).values() for page in part), key=lambda p: p.page)
        if len(pages) != (runtime.jobs.get(job_id) or job).pages_total:
            raise RaglineError(ErrorCode.INTERNAL, "pages of the document went missing between its reading tasks")
        require_text(pages)
        runtime.artifacts.put_pages(job_id, pages)
        runtime.jobs.advance(job_id, pages_done=len(pages), pages_ocr=sum(page.ocr for page in pages))
    return job_id


@contextmanager
def _reading(job: Job, expired: RaglineError) -> Iterator[DocumentReader]:
    """The job's upload, open for reading and closed after; `expired` is raised if it is gone."""
    data = runtime.artifacts.get_blob(job.job_id)
    if data is None:
        raise expired
    annotate(bytes=len(data), format=job.format)
    reader = _open(job, data)
    try:
        yield reader
    finally:
        reader.close()


def _open(job: Job, data: bytes) -> DocumentReader:
    settings = runtime.settings
    options = ReadOptions(
        ocr=settings.ocr,
        ocr_languages=settings.ocr_languages,
        ocr_dpi=settings.ocr_dpi,
        pdf_tables=settings.pdf_tables == "auto",
        max_archive_bytes=settings.max_archive_bytes,
        max_archive_ratio=settings.max_archive_ratio,
        max_sheet_cells=settings.max_sheet_cells,
        max_image_pixels=settings.max_image_pixels,
    )
    return open_document(data, Format(job.format), options)


def _read_text_pages(job_id: str, reader: DocumentReader) -> tuple[list[PageText], list[int]]:
    """The pages that need no OCR, read now; the numbers of those that do, left for later."""
    pages: list[PageText] = []
    deferred: list[int] = []
    for number in range(1, reader.page_count + 1):
        if reader.needs_ocr(number):
            deferred.append(number)
            continue
        pages.append(reader.read_page(number, ocr=False))
        if len(pages) % PROGRESS_EVERY_PAGES == 0:
            runtime.jobs.advance(job_id, pages_done=len(pages))
    runtime.jobs.advance(job_id, pages_done=len(pages))
    return pages, deferred


def _read_ocr_pages(job_id: str, reader: DocumentReader, numbers: list[int], done: int) -> list[PageText]:
    pages = []
    for number in numbers:
        pages.append(reader.read_page(number, ocr=True))
        # Every OCR'd page shows on the bar: each takes seconds.
        runtime.jobs.advance(job_id, pages_done=done + len(pages), pages_ocr=len(pages))
    return pages


def _time_limits(ocr_pages: int) -> dict[str, int]:
    """A page-range task's limits, from its page count (RAGLINE_OCR_SECONDS_PER_PAGE each, plus a margin
    for opening the document), instead of the task time limit sized for any step."""
    hard = ocr_pages * runtime.settings.ocr_seconds_per_page + 60
    return {"time_limit": hard, "soft_time_limit": hard - 30}


@app.task(name=names.TEXT_SPLITTER_TASK, bind=True, base=IngestTask)
def text_splitter_task(self: Task, message: dict) -> str:
    """Split the extracted pages into chunks that each stay on one page, as the message says."""
    request = IngestJob.model_validate(message)
    job_id = request.job_id
    job = _load_job(job_id)
    with _stage(self, job, "split"):
        pages = runtime.artifacts.get_pages(job_id)
        if pages is None:
            raise RaglineError(ErrorCode.INTERNAL, "the extracted pages expired before splitting")
        chunks = split_pages(pages, request.chunk_size, request.chunk_overlap)
        annotate(pages=len(pages), chunks=len(chunks))
        if len(chunks) > request.max_chunks:
            # Refused before anything is stored: the collection stays as it was.
            raise RaglineError(
                ErrorCode.TOO_MANY_CHUNKS,
                f"the document splits into {len(chunks)} chunks, more than the {request.max_chunks} "
                "allowed per document (RAGLINE_MAX_CHUNKS_PER_DOCUMENT); split it into smaller files",
            )
        runtime.artifacts.put_chunks(job_id, chunks)
        runtime.jobs.update(job_id, chunks_total=len(chunks))
    return job_id


@app.task(name=names.VECTORSTORE_TASK, bind=True, base=IngestTask)
def vectorstore_task(self: Task, message: dict) -> str:
    """Embed the chunks and upsert them under deterministic ids: here for a short document; for a
    long one, one task per page range, run in parallel by the ingest worker processes, a few at a time.
    """
    request = IngestJob.model_validate(message)
    job_id = request.job_id
    job = _load_job(job_id)
    with _stage(self, job, "index"):
        if runtime.embedder.name != request.embedding_model:
            raise RaglineError(
                ErrorCode.EMBEDDING_MODEL_MISMATCH,
                f"the upload was sent for embedding model {request.embedding_model}, but this ingest worker embeds with "
                f"{runtime.embedder.name}: give the API and the ingest workers the same embedding settings",
            )
        chunks = _stored_chunks(job_id)
        runtime.index.check_model(job.collection, runtime.embedder.name)
        runtime.jobs.start_parts(job_id)
        settings = runtime.settings
        parts = bounded_parts(page_parts(chunks, settings.ingest_pages_per_part), settings.ingest_chunks_per_part)
        annotate(chunks=len(chunks), parts=len(parts))
        if len(parts) > 1:
            attempt, first = runtime.parts.start(job_id, parts, settings.ingest_parts_in_flight or len(parts))
            for start, stop in first:
                _send_part(job_id, start, stop, attempt)
            return job_id
        for start, stop in parts:
            _index_range(job, chunks, start, stop)
        _drop_stale_chunks(job, chunks)
        _index_words(job, chunks)
        # Inside the stage: a blob store that is away retries the step, as Chroma does, before the job is done.
        runtime.artifacts.keep_file(job.job_id, job.collection, job.document_id)
    _mark_done(job, len(chunks))
    return job_id


@app.task(name=names.INDEX_PART_TASK, bind=True, base=IngestTask)
def index_part_task(self: Task, job_id: str, start: int, stop: int, attempt: str | None = None) -> int:
    """Embed and upsert one page range of a fanned-out document: chunks[start:stop]; then send the
    document's next range, or its finish once every range is stored.

    `attempt` is None only for ranges sent by a release that fanned out as a chord.
    """
    job = _load_job(job_id)
    if job.state != "running" or (attempt is not None and not runtime.parts.is_current(job_id, attempt)):
        return 0  # a late redelivery after the job was re-sent, finished or failed
    with _stage(self, job, "index"):
        _index_range(job, _stored_chunks(job_id), start, stop)
    # A range still writing when another range failed the job must not leave its chunks behind.
    if runtime.jobs.get(job_id).state == "failed":  # type: ignore[union-attr]
        purge_document_task.delay(job.collection, job.document_id)
        return 0
    if attempt is not None:
        outcome = runtime.parts.finish(job_id, attempt, start)
        if outcome.next is not None:
            _send_part(job_id, *outcome.next, attempt)
        elif outcome.all_done:
            finish_ingest_task.apply_async(args=(job_id,), kwargs={"attempt": attempt})
    return stop - start


@app.task(name=names.IMPORT_ARCHIVE_TASK, bind=True, base=IngestTask)
def import_archive_task(self: Task, message: dict) -> str:
    """Fill a collection from an uploaded archive (stores/archive.py), without embedding anything.

    Nothing is written before the whole archive checked out, and the claim of its documents is one
    atomic step (refused when the collection holds documents): a bad archive fails the job and leaves
    the collection as it was. Sending it again is safe: the claim is this job's, upserts keep their ids.
    The embedding model the archive must match and the tenant's quota are the message's (the API's).
    """
    request = ImportJob.model_validate(message)
    job_id = request.job_id
    job = _load_job(job_id)
    if job.state in ("done", "failed"):
        return job_id  # a late redelivery
    with _stage(self, job, "verify"):
        manifest = verify_staged(runtime, job_id, job.collection, request.embedding_model, on_chunks=_chunk_counter(job_id))
        quota = Quota(**request.quota.model_dump())
        runtime.documents.claim_all(job.collection, records_of(manifest, job_id), quota, job_id)
    with _stage(self, job, "write"):
        write_staged(runtime, job_id, job.collection, manifest, on_chunks=_chunk_counter(job_id))
        write_segments(runtime.index, runtime.lexical, job.collection, records_of(manifest, job_id))
    finish_import(runtime, job_id, job.collection, manifest)
    return job_id


def _chunk_counter(job_id: str) -> Callable[[int], None]:
    """Progress of one stage of an import: chunks verified, then chunks written."""
    counted = 0
    runtime.jobs.update(job_id, chunks_done=0)

    def count(chunks: int) -> None:
        nonlocal counted
        counted += chunks
        runtime.jobs.update(job_id, chunks_done=counted)

    return count


def _send_part(job_id: str, start: int, stop: int, attempt: str) -> None:
    # Arguments as the chord sent them (job, first chunk, end), the attempt as a keyword.
    index_part_task.apply_async(args=(job_id, start, stop), kwargs={"attempt": attempt})


@app.task(name=names.FINISH_INGEST_TASK, bind=True, base=IngestTask)
def finish_ingest_task(self: Task, job_id: str, attempt: str | None = None) -> str:
    """Every page range is stored, so the document is."""
    job = _load_job(job_id)
    if job.state != "running" or (attempt is not None and not runtime.parts.is_current(job_id, attempt)):
        return job_id
    with _stage(self, job, "finish"):
        chunks = _stored_chunks(job_id)
        _drop_stale_chunks(job, chunks)
        _index_words(job, chunks)
        # Inside the stage: a blob store that is away retries the step, as Chroma does, before the job is done.
        runtime.artifacts.keep_file(job.job_id, job.collection, job.document_id)
    _mark_done(job, len(chunks))
    return job_id


def _stored_chunks(job_id: str) -> list[Chunk]:
    chunks = runtime.artifacts.get_chunks(job_id)
    if chunks is None:
        raise RaglineError(ErrorCode.INTERNAL, "the split chunks expired before indexing")
    return chunks


def _index_range(job: Job, chunks: Sequence[Chunk], start: int, stop: int) -> None:
    """Embed chunks[start:stop] (cached vectors reused) and upsert them while the next batch embeds."""
    embedder = CachedEmbedder(runtime.embedder, EmbeddingCache(runtime.cache, runtime.settings.embedding_cache_ttl_seconds))
    annotate(first_page=chunks[start].page, last_page=chunks[stop - 1].page, model=embedder.name)
    stored = 0

    def store(batch: tuple[Sequence[Chunk], list[list[float]]]) -> None:
        nonlocal stored
        records = [ChunkRecord.of(job.document_id, job.filename, chunk) for chunk in batch[0]]
        runtime.index.upsert(job.collection, embedder.name, records, batch[1])
        stored += len(records)
        runtime.jobs.part_progress(job.job_id, start, stored, embedder.embedded)

    # Upserts run behind the model, which embeds the next batch meanwhile; chunks_done counts stored ones.
    with BackgroundWriter(store) as writer:
        index_chunks(
            chunks[start:stop],
            embed=embedder.embed_documents,
            store=lambda batch, vectors: writer.submit((batch, vectors)),
            batch_size=runtime.settings.embedding_batch_size,
        )
    annotate(chunks_embedded=embedder.embedded)


def _drop_stale_chunks(job: Job, chunks: Sequence[Chunk]) -> None:
    """Chunks left from an earlier ingest with other split settings would otherwise linger."""
    current = {chunk_id(job.document_id, chunk) for chunk in chunks}
    stale = [cid for cid in runtime.index.chunk_ids(job.collection, job.document_id) if cid not in current]
    runtime.index.delete_chunks(job.collection, stale)


def _index_words(job: Job, chunks: Sequence[Chunk]) -> None:
    """The document's lexical segment: its words match in every query process from the next question on."""
    entries = [LexicalEntry(chunk_id(job.document_id, chunk), job.document_id, chunk.page, chunk.text) for chunk in chunks]
    put_segment(runtime.lexical, job.collection, job.document_id, job.job_id, entries)


def _mark_done(job: Job, chunk_count: int) -> None:
    """Every chunk is stored: the document answers questions from now on."""
    # All page ranges together, from the first embedding to the last upsert, wherever they ran.
    if (elapsed := runtime.jobs.parts_elapsed(job.job_id)) is not None:
        runtime.jobs.update(job.job_id, timings={"index": elapsed})
    finished = runtime.jobs.get(job.job_id)
    pages_total = finished.pages_total if finished else 0
    runtime.documents.update(job.collection, job.document_id, state="done", pages=pages_total, chunks=chunk_count)
    runtime.documents.bump_generation(job.collection)
    runtime.artifacts.discard(job.job_id)
    runtime.parts.discard(job.job_id)
    runtime.jobs.finish(job.job_id)
    record_ingest_done(pages_total, chunk_count)
    logger.info("ingest done job_id=%s document_id=%s chunks=%s", job.job_id, job.document_id, chunk_count)
