"""Questions: check and resolve them, answer from the cache, or send them to a query worker and
relay its answer (whole, or streamed as it is written); an identical question already in flight is
answered once for all who ask it."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio

from ragline.api.service.admission import Admission
from ragline.errors import ErrorCode, RaglineError
from ragline.stores import keys
from ragline.stores.answers import AnswerCache
from ragline.stores.bundle import Stores
from ragline.stores.vectors import require_chroma
from ragline.tasks import names
from ragline.tasks.flows import send_query
from ragline.tasks.messages import Answering, Filters, Generation, QueryTask, Reranking
from ragline.tenancy import display

# How often a request waiting on an identical in-flight question looks for its answer.
FOLLOW_POLL_SECONDS = 0.02
# Delete the in-flight marker only if this request still holds it (it may have expired and been retaken).
# How long a reply list outlives the asker's wait, for a late answer nobody reads any more to expire.
REPLY_MARGIN_SECONDS = 60
RELEASE_IF_HELD = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@dataclass(frozen=True)
class QuerySpec:
    """A question with every option resolved: what the query worker is sent and what the cache is keyed on."""

    collection: str
    question: str
    answering: Answering


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


class QuestionService:
    def __init__(
        self, stores: Stores, admission: Admission, celery, redis_async: redis.asyncio.Redis, answers: AnswerCache  # noqa: ANN001 - celery.Celery
    ) -> None:
        self._stores = stores
        self._settings = stores.settings
        self._admission = admission
        self._celery = celery
        self._redis_async = redis_async
        self._answers = answers

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
        """Check the question and resolve every choice its answer depends on: the request's, else this
        process's settings. The query worker uses these, whatever its own settings say."""
        settings = self._settings
        retrieval = retrieval or settings.retrieval
        mode = mode or settings.answer_mode
        # The chat model writes generative answers, rewrites follow-ups (condense auto) and reranks (rerank llm).
        uses_model = mode == "generative" or (bool(history) and settings.condense == "auto") or settings.rerank == "llm"
        answering = Answering(
            embedding_model=settings.embedding_model_name,
            top_k=top_k or settings.default_top_k,
            retrieval=retrieval,
            candidates=settings.hybrid_candidates,
            rrf_k=settings.rrf_k,
            threshold=settings.relevance_threshold,
            max_sentences=settings.answer_sentences,
            mode=mode,
            generation=self._generation() if uses_model else None,
            reranking=self._reranking(),
            condense=settings.condense,
            filters=Filters.model_validate(filters or {}),
            history=history,
        )
        return QuerySpec(collection=collection, question=self.clean_question(question), answering=answering)

    def _generation(self) -> Generation | None:
        settings = self._settings
        if not settings.llm_configured:
            return None
        return Generation(
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            timeout_seconds=settings.llm_timeout_seconds,
        )

    def _reranking(self) -> Reranking | None:
        settings = self._settings
        if settings.rerank == "none":
            return None
        http = settings.rerank == "http"
        return Reranking(
            kind=settings.rerank,
            candidates=settings.rerank_candidates,
            url=settings.rerank_url if http else None,
            api=settings.rerank_api if http else None,
            model=settings.rerank_model if http else None,
            timeout_seconds=settings.model_timeout_seconds if http else None,
        )

    def check_conversation(self, texts: list[str]) -> None:
        """A conversation travels with its query task (and sits in the result backend for a day): bounded
        by message count and by characters over all messages."""
        max_messages, max_chars = self._settings.max_chat_messages, self._settings.max_chat_chars
        if len(texts) > max_messages:
            raise RaglineError(ErrorCode.CONVERSATION_TOO_LONG, f"more than {max_messages} messages (RAGLINE_MAX_CHAT_MESSAGES)")
        if sum(map(len, texts)) > max_chars:
            raise RaglineError(ErrorCode.CONVERSATION_TOO_LONG, f"the messages hold more than {max_chars} characters (RAGLINE_MAX_CHAT_CHARS)")

    def clean_question(self, question: str) -> str:
        question = question.strip()
        max_chars = self._settings.max_question_chars
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
        if not self._answers.enabled:
            query.request_id = self._submit(query, uuid.uuid4().hex)
            return query
        query.cache_key = self._answers.key(spec.collection, spec.question, spec.answering.cache_fields())
        query.cached = self._answers.get(query.cache_key)
        if query.cached is None:
            self._lead_or_follow(query)
        return query

    def _lead_or_follow(self, query: OpenQuery) -> None:
        """Send the question unless an identical one is in flight (then `query` stays following)."""
        request_id = uuid.uuid4().hex
        in_flight = keys.answer_in_flight(query.cache_key or "")
        if not self._stores.redis.set(in_flight, request_id, nx=True, ex=math.ceil(self._wait_seconds(query.spec))):
            return
        try:
            query.request_id = self._submit(query, request_id)
        except Exception:
            self._stores.redis.delete(in_flight)
            raise

    async def _await_leader(self, query: OpenQuery) -> None:
        """Once the in-flight question is done, take its answer from the cache; if it ended without one
        (an error, a fallback, a vanished worker, a cache that is down), send this one instead.

        The in-flight marker lives in the main Redis, beside the reply lists: it coordinates requests
        under way and must not be evicted by the cache Redis's LRU, or vanish with it (the askers would
        all wait on a marker nobody can release).
        """
        in_flight = keys.answer_in_flight(query.cache_key or "")
        wait_seconds = self._wait_seconds(query.spec)
        while query.following:
            if await self._redis_async.get(in_flight) is None:
                query.cached = await asyncio.to_thread(self._answers.get, query.cache_key or "")
                if query.cached is None:
                    await asyncio.to_thread(self._lead_or_follow, query)
            elif time.perf_counter() - query.started > wait_seconds:
                raise RaglineError(ErrorCode.QUERY_TIMEOUT, f"no query worker answered within {wait_seconds:g} s")
            else:
                await asyncio.sleep(FOLLOW_POLL_SECONDS)

    async def _release(self, query: OpenQuery) -> None:
        """Let waiting askers go on once this request has its outcome, whatever it was."""
        if query.cache_key and query.request_id:
            await self._redis_async.eval(RELEASE_IF_HELD, 1, keys.answer_in_flight(query.cache_key), query.request_id)

    def _submit(self, query: OpenQuery, request_id: str) -> str:
        spec = query.spec
        if not self._stores.documents.count(spec.collection):
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{display(spec.collection)}' has no documents")
        if spec.answering.filters.page_ranges:
            self._check_page_ranges(spec.collection, spec.answering.filters)
        # The worker would wait out its Chroma timeout; the asker learns of the outage at once.
        require_chroma()
        self._admission.admit(names.QUERY_QUEUE)
        message = QueryTask(
            collection=spec.collection,
            question=spec.question,
            answering=spec.answering,
            stream=query.stream,
            cache_key=query.cache_key,
            cache_ttl_seconds=self._settings.answer_cache_ttl_seconds,
            reply_ttl_seconds=math.ceil(self._wait_seconds(spec)) + REPLY_MARGIN_SECONDS,
        )
        send_query(self._celery, message, request_id)
        return request_id

    def _check_page_ranges(self, collection: str, filters: Filters) -> None:
        """Refuse page ranges that all start past the last page of every document they may apply to."""
        records = self._stores.documents.list(collection)
        if filters.document_ids:
            records = [record for record in records if record.document_id in filters.document_ids]
        # Pages are known once a document is done; while one is still ingesting, let the filter through.
        if not records or any(record.state != "done" for record in records):
            return
        longest = max(record.pages for record in records)
        first = min(first for first, _ in filters.page_ranges)
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
        timeout = self._settings.query_timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + timeout
        reply = None
        # Each pop blocks at most the query timeout, which the connection's read timeout outlasts;
        # a generative answer may need longer, in several pops. Never 0: BLPOP's 0 means forever.
        while reply is None and (remaining := deadline - time.monotonic()) > 0:
            wait = max(min(remaining, self._settings.query_timeout_seconds), 0.01)
            reply = await self._redis_async.blpop([keys.reply(request_id)], timeout=wait)
        if reply is None:
            self._celery.control.revoke(request_id)
            raise RaglineError(ErrorCode.QUERY_TIMEOUT, f"no query worker answered within {timeout:g} s")
        payload = json.loads(reply[1])
        if "error" in payload:
            raise RaglineError(ErrorCode.from_code(payload["error"]["code"]), payload["error"]["detail"])
        return payload

    def _wait_seconds(self, spec: QuerySpec) -> float:
        """A generative answer may take the model's whole time limit on top of retrieval."""
        generation = spec.answering.generation
        return self._settings.query_timeout_seconds + (generation.timeout_seconds if generation else 0.0)

    @staticmethod
    def _finished(query: OpenQuery, payload: dict) -> dict:
        cached = query.cached is not None
        # A cached answer's step timings describe the request that computed it; only the total is this one's.
        timings = {} if cached else dict(payload.get("timings", {}))
        timings["total"] = round(time.perf_counter() - query.started, 4)
        return {**payload, "cached": cached, "timings": timings}
