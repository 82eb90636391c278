"""What the API does, below the routers: store uploads, record jobs, enqueue work, read state."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from functools import cached_property

import httpx
import redis.asyncio
from celery.result import AsyncResult

from ragline.api.hardening import BlockedClients
from ragline.api.uploads import clean_filename
from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.sniff import looks_like_pdf
from ragline.stores import keys
from ragline.stores.bundle import Stores
from ragline.stores.answers import AnswerCache
from ragline.stores.documents import DocumentRecord, Quota
from ragline.stores.jobs import ACTIVE_STATES, Job, new_job_id
from ragline.stores.limits import RateLimiter
from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE
from ragline.stores.redis_client import connect_async
from ragline.stores.vectors import require_chroma
from ragline.tenancy import belongs, display
from ragline.worker import names
from ragline.worker.celery_app import make_celery
from ragline.worker.flows import send_ingest

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0
# As long as Celery keeps the task's result (celery_app's result_expires).
SEED_TASK_TTL_SECONDS = 24 * 3600
# The seed's status names: Celery's SUCCESS/FAILURE read as COMPLETED/FAILED.
SEED_STATUS = {"SUCCESS": "COMPLETED", "FAILURE": "FAILED", "REVOKED": "FAILED"}
# How long a passed admission check (a live worker, a short queue) is trusted without asking Redis.
RECHECK_SECONDS = 1.0
REQUEST_THREADS = 40
# How often a request waiting on an identical in-flight question looks for its answer.
FOLLOW_POLL_SECONDS = 0.02
# Delete the in-flight marker only if this request still holds it (it may have expired and been retaken).
RELEASE_IF_HELD = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@dataclass
class Accepted:
    job: Job
    record: DocumentRecord
    duplicate: bool


@dataclass(frozen=True)
class QuerySpec:
    """A question with every option resolved: what the query worker runs and what the cache is keyed on."""

    collection: str
    question: str
    top_k: int
    mode: str
    retrieval: str
    # {"document_ids": [...], "page_ranges": [[first, last], ...]}, as the worker's PassageFilter.of reads it.
    filters: dict | None = None
    history: tuple[tuple[str, str], ...] = ()


@dataclass
class OpenQuery:
    """A question on its way: a worker is answering `request_id`, or the cache had the answer, or
    neither yet: an identical question is in flight and this one waits for its answer (`cache_key`).
    """

    spec: QuerySpec
    started: float
    stream: bool = False
    cache_key: str | None = None
    request_id: str | None = None
    cached: dict | None = None

    @property
    def following(self) -> bool:
        return self.request_id is None and self.cached is None

    def remaining_seconds(self, wait_seconds: float) -> float:
        # At least one last short look, so a request that waited its whole time still reads a late answer.
        return max(wait_seconds - (time.perf_counter() - self.started), 0.1)


class RaglineService(Stores):
    """One per API process; holds the connections every request shares."""

    @cached_property
    def redis_async(self) -> redis.asyncio.Redis:
        return connect_async(self.settings)

    @cached_property
    def celery(self):  # noqa: ANN201 - celery.Celery
        app = make_celery("api", self.settings)
        # Fail a request fast when Redis is away instead of retrying the publish for seconds.
        app.conf.task_publish_retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
        # A `task-sent` event per request cost more than the publish itself (py-spy under wrk); Flower
        # still follows every task from the workers' events (received, started, succeeded).
        app.conf.task_send_sent_event = False
        # One broker connection per thread of the request thread pool (anyio's 40), not Celery's 10 to
        # queue for under load.
        app.conf.broker_pool_limit = REQUEST_THREADS
        return app

    @cached_property
    def answers(self) -> AnswerCache:
        return AnswerCache(self.redis, self.settings.answer_cache_ttl_seconds)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(self.redis)

    # ---- admission -------------------------------------------------------------------------

    def charge(self, key_id: str) -> None:
        limit = self.settings.rate_limit_per_minute
        if (retry_after := self.rate_limiter.hit(key_id, limit)) is not None:
            raise RaglineError(ErrorCode.RATE_LIMITED, f"more than {limit} requests per minute", retry_after=retry_after)

    @cached_property
    def blocked_clients(self) -> BlockedClients:
        return BlockedClients()

    def refuse_blocked_client(self, client: str) -> None:
        """Refuse a client that guessed too many keys, whatever key it sends now (no Redis call)."""
        if (retry_after := self.blocked_clients.retry_after(client)) is not None:
            raise RaglineError(ErrorCode.AUTH_RATE_LIMITED, "too many wrong API keys from this address", retry_after=retry_after)

    def count_auth_failure(self, client: str) -> None:
        """Count a wrong key against the client's address; over the limit, block the address for the window."""
        limit = self.settings.auth_failures_per_minute
        if not limit:
            return
        if (retry_after := self.rate_limiter.hit(f"authfail-{client}", limit)) is not None:
            logger.warning("auth failures over limit client=%s limit=%s", client, limit)
            self.blocked_clients.block(client, retry_after)
            raise RaglineError(ErrorCode.AUTH_RATE_LIMITED, f"more than {limit} wrong API keys per minute", retry_after=retry_after)

    @cached_property
    def _worker_seen(self) -> dict[str, tuple[float, bool]]:
        """Queue -> (when this process last asked Redis, whether one of its workers was alive then)."""
        return {}

    @cached_property
    def _queue_seen(self) -> dict[str, tuple[float, int]]:
        """Queue -> (when its length was last read, that length plus the tasks admitted since)."""
        return {}

    def worker_alive(self, queue: str) -> bool:
        """Whether a worker of `queue` sent a heartbeat lately."""
        now = time.monotonic()
        # Liveness moves at heartbeat pace (seconds): asking Redis once a second per queue is enough.
        asked_at, alive = self._worker_seen.get(queue, (-math.inf, False))
        if now - asked_at > RECHECK_SECONDS:
            alive = bool(self.workers.alive(queue, self.settings.worker_heartbeat_ttl_seconds))
            self._worker_seen[queue] = (now, alive)
        return alive

    def _admit(self, queue: str) -> None:
        """Refuse new work when its queue is already long, or when nobody would run it and its workers
        never scale to zero (work for a kind at zero is queued: the task in the list is what wakes KEDA)."""
        now = time.monotonic()
        if queue in self.settings.require_live_worker_queues and not self.worker_alive(queue):
            raise RaglineError(ErrorCode.NO_WORKER, f"no {queue} worker is running; start one and retry", retry_after=10)
        # A queue seen far below its limit a moment ago, plus what this process sent since, cannot be
        # full yet (other API replicas may add a second's worth): skip the LLEN, as costly as the send.
        limit = self.settings.max_queue_length
        seen = self._queue_seen.get(queue)
        if seen is not None and now - seen[0] <= RECHECK_SECONDS and seen[1] < limit / 2:
            self._queue_seen[queue] = (seen[0], seen[1] + 1)
            return
        waiting = int(self.redis.llen(queue))
        if waiting >= limit:
            raise RaglineError(ErrorCode.QUEUE_FULL, f"the {queue} queue holds {waiting} tasks; retry later", retry_after=30)
        self._queue_seen[queue] = (now, waiting + 1)

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
        replaces = None
        if existing is not None and existing.state in ACTIVE_STATES:
            # Its job may be a moment from being recorded: the upload that claimed it is still at work.
            return self._duplicate(collection, existing)
        if existing is not None and existing.state == "done":
            job = self.jobs.get(existing.job_id)
            if job is not None:
                return Accepted(job=job, record=existing, duplicate=True)
            # The record outlived its job (expired): ingest again, unless another upload already does.
            replaces = existing.job_id

        job = Job(job_id=new_job_id(), document_id=document_id, collection=collection, filename=filename)
        record = DocumentRecord(document_id=document_id, filename=filename, job_id=job.job_id, size_bytes=len(data))
        # One atomic step decides between concurrent uploads of the same bytes (the others get the
        # winner's job, whatever the queue's state), and charges the tenant's quota.
        claim = self.documents.claim(collection, record, self._quota, replaces=replaces)
        if claim.quota is not None:
            raise RaglineError(ErrorCode.QUOTA_EXCEEDED, claim.quota)
        if claim.holder is not None:
            return self._duplicate(collection, claim.holder)
        try:
            self._admit(names.INGEST_QUEUE)
            self.artifacts.put_blob(job.job_id, data)
            self.jobs.create(job)
            send_ingest(self.celery, job.job_id)
        except Exception as exc:
            self._abandon(collection, job, exc)
            raise
        logger.info("upload accepted job_id=%s document_id=%s collection=%s bytes=%s", job.job_id, document_id, collection, len(data))
        return Accepted(job=job, record=record, duplicate=False)

    def _abandon(self, collection: str, job: Job, cause: Exception) -> None:
        """Undo a claimed upload that was refused (a full queue) or could not be sent, so the bytes can be
        uploaded again (best effort: the cause is often Redis itself being away)."""
        try:
            self.documents.remove(collection, job.document_id, job_id=job.job_id)
            if self.jobs.get(job.job_id) is not None:
                self.jobs.fail(job.job_id, ErrorCode.DEPENDENCY_UNAVAILABLE.code, f"the upload could not be queued: {cause}")
            self.artifacts.discard(job.job_id)
        except Exception as exc:  # noqa: BLE001 - the original error is the one to report
            logger.warning("could not undo an unsent upload job_id=%s error=%s", job.job_id, exc)

    @property
    def _quota(self) -> Quota:
        settings = self.settings
        return Quota(documents=settings.tenant_max_documents, pages=settings.tenant_max_pages, size_bytes=settings.tenant_max_bytes)

    def _duplicate(self, collection: str, record: DocumentRecord) -> Accepted:
        """The upload that won a race for these bytes: its job may not be recorded yet, its id is."""
        job = self.jobs.get(record.job_id) or Job(
            job_id=record.job_id, document_id=record.document_id, collection=collection, filename=record.filename
        )
        return Accepted(job=job, record=record, duplicate=True)

    def accept_data_file(self, collection: str, filename: str) -> Accepted:
        """The seed's ingest of a PDF already on the server, confined to the data folder."""
        folder = self.settings.pdf_dir.resolve()
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
        return self.documents.list(collection)

    def delete_document(self, collection: str, document_id: str) -> None:
        record = self.documents.get(collection, document_id)
        if record is None:
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{display(collection)}' has no document {document_id}")
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
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{display(collection)}' has no indexed file for document {document_id}")
        return record, data

    def waiting_for_worker(self, job: Job) -> bool:
        return job.state in ACTIVE_STATES and not self.worker_alive(names.INGEST_QUEUE)

    def get_job(self, job_id: str, tenant: str) -> Job:
        job = self.jobs.get(job_id)
        # Another tenant's job does not exist as far as this caller can tell.
        if job is None or not belongs(job.collection, tenant):
            raise RaglineError(ErrorCode.NOT_FOUND, f"no job {job_id}")
        return job

    # ---- questions -------------------------------------------------------------------------

    def query_spec(
        self,
        collection: str,
        question: str,
        top_k: int | None = None,
        mode: str | None = None,
        retrieval: str | None = None,
        filters: dict | None = None,
        history: tuple[tuple[str, str], ...] = (),
    ) -> QuerySpec:
        """Check the question and fill every option the request left out from the settings."""
        return QuerySpec(
            collection=collection,
            question=self.clean_question(question),
            top_k=top_k or self.settings.default_top_k,
            mode=mode or self.settings.answer_mode,
            retrieval=retrieval or self.settings.retrieval,
            filters=filters or None,
            history=history,
        )

    def clean_question(self, question: str) -> str:
        question = question.strip()
        max_chars = self.settings.max_question_chars
        if not question:
            raise RaglineError(ErrorCode.INVALID_QUESTION, "the question is empty")
        if len(question) > max_chars:
            raise RaglineError(ErrorCode.INVALID_QUESTION, f"the question is longer than {max_chars} characters")
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in question):
            raise RaglineError(ErrorCode.INVALID_QUESTION, "the question contains control characters")
        return question

    def open_query(self, spec: QuerySpec, stream: bool) -> OpenQuery:
        """Serve the question from the answer cache, or send it to a query worker, or wait for the
        identical question already there: a burst of one question costs one answer, not one each.
        """
        query = OpenQuery(spec, time.perf_counter(), stream)
        if not self.answers.enabled:
            query.request_id = self._submit(query, uuid.uuid4().hex)
            return query
        query.cache_key = self.answers.key(spec.collection, spec.question, self._cache_fields(spec))
        query.cached = self.answers.get(query.cache_key)
        if query.cached is None:
            self._lead_or_follow(query)
        return query

    def _lead_or_follow(self, query: OpenQuery) -> None:
        """Send the question unless an identical one is in flight (then `query` stays following)."""
        request_id = uuid.uuid4().hex
        in_flight = keys.answer_in_flight(query.cache_key or "")
        if not self.redis.set(in_flight, request_id, nx=True, ex=math.ceil(self._wait_seconds(query.spec))):
            return
        try:
            query.request_id = self._submit(query, request_id)
        except Exception:
            self.redis.delete(in_flight)
            raise

    async def _await_leader(self, query: OpenQuery) -> None:
        """Take the in-flight question's answer from the cache once it lands; if that question ended
        without one (an error, a fallback, a vanished worker), send this one instead.
        """
        in_flight = keys.answer_in_flight(query.cache_key or "")
        wait_seconds = self._wait_seconds(query.spec)
        while query.following:
            cached, leader = await self.redis_async.mget([query.cache_key, in_flight])
            if cached is not None:
                query.cached = json.loads(cached)
            elif leader is None:
                await asyncio.to_thread(self._lead_or_follow, query)
            elif time.perf_counter() - query.started > wait_seconds:
                raise RaglineError(ErrorCode.QUERY_TIMEOUT, f"no query worker answered within {wait_seconds:g} s")
            else:
                await asyncio.sleep(FOLLOW_POLL_SECONDS)

    async def _release(self, query: OpenQuery) -> None:
        """Let waiting askers go on once this request has its outcome, whatever it was."""
        if query.cache_key and query.request_id:
            await self.redis_async.eval(RELEASE_IF_HELD, 1, keys.answer_in_flight(query.cache_key), query.request_id)

    def _submit(self, query: OpenQuery, request_id: str) -> str:
        spec = query.spec
        if not self.documents.count(spec.collection):
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{display(spec.collection)}' has no documents")
        if spec.filters and spec.filters.get("page_ranges"):
            self._check_page_ranges(spec.collection, spec.filters)
        # The worker would wait out its Chroma timeout; the asker learns of the outage at once.
        require_chroma()
        self._admit(names.QUERY_QUEUE)
        options = {
            "mode": spec.mode,
            "retrieval": spec.retrieval,
            "filters": spec.filters,
            "history": [list(turn) for turn in spec.history],
            "stream": query.stream,
            "cache_key": query.cache_key,
        }
        self.celery.send_task(
            names.QUERY_TASK, args=[spec.collection, spec.question, spec.top_k, options], task_id=request_id, queue=names.QUERY_QUEUE
        )
        return request_id

    def _check_page_ranges(self, collection: str, filters: dict) -> None:
        """Refuse page ranges that all start past the last page of every document they may apply to."""
        records = self.documents.list(collection)
        if filters.get("document_ids"):
            records = [record for record in records if record.document_id in filters["document_ids"]]
        # Pages are known once a document is done; while one is still ingesting, let the filter through.
        if not records or any(record.state != "done" for record in records):
            return
        longest = max(record.pages for record in records)
        first = min(first for first, _ in filters["page_ranges"])
        if first > longest:
            raise RaglineError(ErrorCode.INVALID_FILTER, f"page {first} is past the last page of the filtered documents ({longest})")

    async def answer(self, query: OpenQuery) -> dict:
        """The final answer payload, with `cached` and the total time."""
        if query.following:
            await self._await_leader(query)
        if query.cached is not None:
            return self._finished(query, query.cached)
        try:
            reply = await self.await_answer(query.request_id or "", query.remaining_seconds(self._wait_seconds(query.spec)))
        finally:
            await self._release(query)
        return self._finished(query, reply)

    async def answer_events(self, query: OpenQuery) -> AsyncIterator[dict]:
        """`token` and `reset` events as the worker writes the answer, then the final `answer` event."""
        if query.following:
            await self._await_leader(query)
        if query.cached is not None:
            yield {"event": "token", "text": query.cached["answer"]}
            yield self._finished(query, query.cached)
            return
        wait_seconds = self._wait_seconds(query.spec)
        try:
            while True:
                event = await self.await_answer(query.request_id or "", query.remaining_seconds(wait_seconds))
                if event.get("event") not in ("token", "reset"):
                    break
                yield event
        finally:
            await self._release(query)
        yield self._finished(query, event)

    async def await_answer(self, request_id: str, timeout: float | None = None) -> dict:
        """The next event the worker pushed for this request (the answer itself, unless it streams)."""
        timeout = self.settings.query_timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + timeout
        reply = None
        # Each pop blocks at most the query timeout, which the connection's read timeout outlasts;
        # a generative answer may need longer, in several pops. Never 0: BLPOP's 0 means forever.
        while reply is None and (remaining := deadline - time.monotonic()) > 0:
            wait = max(min(remaining, self.settings.query_timeout_seconds), 0.01)
            reply = await self.redis_async.blpop([keys.reply(request_id)], timeout=wait)
        if reply is None:
            self.celery.control.revoke(request_id)
            raise RaglineError(ErrorCode.QUERY_TIMEOUT, f"no query worker answered within {timeout:g} s")
        payload = json.loads(reply[1])
        if "error" in payload:
            raise RaglineError(ErrorCode.from_code(payload["error"]["code"]), payload["error"]["detail"])
        return payload

    def list_collections(self) -> list[str]:
        """Internal (tenant-scoped) names of the collections that hold documents."""
        return self.documents.collections()

    def _wait_seconds(self, spec: QuerySpec) -> float:
        """A generative answer may take the model's whole time limit on top of retrieval."""
        model_time = self.settings.llm_timeout_seconds if spec.mode == "generative" else 0.0
        return self.settings.query_timeout_seconds + model_time

    def _cache_fields(self, spec: QuerySpec) -> dict:
        """Everything besides the question that changes the answer."""
        settings = self.settings
        fields = {**asdict(spec), "embedding_model": settings.embedding_model_name}
        del fields["collection"], fields["question"]
        fields.update(threshold=settings.relevance_threshold, sentences=settings.answer_sentences)
        if spec.retrieval == "hybrid":
            fields.update(candidates=settings.hybrid_candidates, rrf_k=settings.rrf_k)
        if spec.mode == "generative":
            fields.update(
                llm=settings.llm_model,
                llm_url=settings.llm_base_url,
                max_tokens=settings.llm_max_tokens,
                temperature=settings.llm_temperature,
            )
        return fields

    @staticmethod
    def _finished(query: OpenQuery, payload: dict) -> dict:
        cached = query.cached is not None
        # A cached answer's step timings describe the request that computed it; only the total is this one's.
        timings = {} if cached else dict(payload.get("timings", {}))
        timings["total"] = round(time.perf_counter() - query.started, 4)
        return {**payload, "cached": cached, "timings": timings}

    # ---- the seed's demo tasks -------------------------------------------------------------

    def submit_demo_task(self, task_name: str, x: int, y: int, tenant: str) -> str:
        self._admit(names.DEFAULT_QUEUE)
        task_id = str(uuid.uuid4())
        # Whose task it is, recorded before it exists: /task-status answers only its owner.
        self.redis.set(keys.seed_task(task_id), tenant, ex=SEED_TASK_TTL_SECONDS)
        return self.celery.send_task(task_name, args=[x, y], queue=names.DEFAULT_QUEUE, task_id=task_id).id

    def task_status(self, task_id: str, tenant: str) -> dict:
        """A demo task's state, for its owner only: another tenant's task, a query's or an ingest's
        task id (whose results hold answers and arguments) is unknown here."""
        owner = self.redis.get(keys.seed_task(task_id.lower()))
        if owner is None or owner.decode() != tenant:
            raise RaglineError(ErrorCode.NOT_FOUND, f"no task {task_id}")
        result = AsyncResult(task_id.lower(), app=self.celery)
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
