"""The query worker: embed the question, retrieve from one collection, answer with citations.

Run with: celery -A ragline.worker.query worker -Q query --concurrency 1 --prefetch-multiplier 1
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from functools import cache

from celery import Task
from celery.signals import worker_process_init

from ragline.domain import Embedder, PassageFilter
from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.answer import Generate
from ragline.pipeline.query import QueryOptions, answer_question
from ragline.pipeline.rerank import Rerank, llm_rerank, scored_rerank, sentence_rerank
from ragline.pipeline.retrieve import Retriever
from ragline.providers.cached import CachedEmbedder
from ragline.providers.llm import ChatModel, create_chat_model
from ragline.providers.rerank import HttpReranker
from ragline.stores import keys
from ragline.stores.answers import AnswerCache
from ragline.stores.embeddings import EmbeddingCache
from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE
from ragline.tasks import names
from ragline.tasks.celery_app import make_celery
from ragline.telemetry.instruments import measured_generation, record_answer
from ragline.telemetry.worker import install_worker_telemetry, setup_worker_process
from ragline.worker.presence import track_presence
from ragline.worker.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

app = make_celery("query")
track_presence(names.QUERY_QUEUE)
install_worker_telemetry(names.QUERY_QUEUE, names.tasks_on(names.QUERY_QUEUE))
runtime = WorkerRuntime()


@worker_process_init.connect
def _load_model(**_: object) -> None:
    setup_worker_process(names.QUERY_QUEUE)
    runtime.embedder  # noqa: B018 - load in the child, after the fork, before the first task


@app.task(name=names.QUERY_TASK, bind=True)
def query_task(self: Task, collection: str, question: str, top_k: int, options: dict | None = None) -> dict:
    """Answer, then push the answer to the reply list the API is blocked on.

    `options` (all optional): mode, retrieval, filters, history, stream (push token events
    first), cache_key (where to cache the answer; the API computed it before sending the task).
    """
    options = options or {}
    settings = runtime.settings
    embedder = _embedder()
    reply = _Reply(self.request.id, int(settings.query_timeout_seconds + settings.llm_timeout_seconds) + 60)
    try:
        query_options = QueryOptions(
            top_k=top_k,
            threshold=settings.relevance_threshold,
            max_sentences=settings.answer_sentences,
            retrieval=options.get("retrieval", settings.retrieval),
            mode=options.get("mode", settings.answer_mode),
            passage_filter=PassageFilter.of(options.get("filters")),
            history=tuple((role, text) for role, text in options.get("history", ())),
            candidates=settings.hybrid_candidates,
            rrf_k=settings.rrf_k,
            rerank_candidates=settings.rerank_candidates,
            condense_with_model=settings.condense == "auto",
        )
        model = _chat_model()
        generate = measured_generation(model.name, model.stream) if model is not None else None
        answer = answer_question(
            question,
            embedder,
            _retriever(collection, embedder),
            query_options,
            generate=generate,
            sink=reply if options.get("stream") else None,
            rerank=_reranker(embedder, generate),
        )
        record_answer(collection, answer.grounded, answer.mode, answer.fallback_reason, len(answer.citations), answer.best_score)
        payload: dict = {
            "event": "answer",
            "answer": answer.answer,
            "grounded": answer.grounded,
            "citations": [asdict(passage) for passage in answer.citations],
            "mode": answer.mode,
            "fallback_reason": answer.fallback_reason,
            "retrieval": query_options.retrieval,
            "timings": answer.timings,
            "standalone_question": answer.standalone_question,
        }
        # A fallback is an outage's answer, not the question's: the next asker should get the model's.
        if options.get("cache_key") and answer.mode != "extractive_fallback":
            _cache(options["cache_key"], payload)
    except RaglineError as exc:
        payload = {"event": "error", "error": {"code": exc.code.code, "detail": exc.detail}}
    except REDIS_UNAVAILABLE as exc:
        logger.warning("query failed, redis unavailable request_id=%s error=%s", self.request.id, exc)
        payload = {"event": "error", "error": {"code": ErrorCode.DEPENDENCY_UNAVAILABLE.code, "detail": "Redis is unavailable; retry shortly"}}
    except Exception:
        # Any other failure is answered too, at once: the asker must not wait out the query timeout
        # for a reply that never comes. The traceback stays in this log, under the request's trace id.
        logger.exception("query failed request_id=%s collection=%s", self.request.id, collection)
        payload = {"event": "error", "error": {"code": ErrorCode.INTERNAL.code, "detail": "the query worker failed; its log has the details under this trace id"}}
    reply.push(payload)
    return _outcome(payload)


def _cache(cache_key: str, payload: dict) -> None:
    """Best effort (stores/cache_redis.py): an answer that could not be cached is still the answer."""
    AnswerCache(runtime.redis, runtime.cache, runtime.settings.answer_cache_ttl_seconds).put(cache_key, payload)


def _outcome(payload: dict) -> dict:
    """What the task returns, for the result backend and Flower: how it went, never the question,
    the answer or the cited text (the API reads those from the reply list)."""
    if payload["event"] == "error":
        return {"event": "error", "code": payload["error"]["code"]}
    return {"event": payload["event"], "grounded": payload["grounded"], "mode": payload["mode"], "citations": len(payload["citations"])}


class _Reply:
    """The reply list the API reads: token and reset events while streaming, then one final event."""

    def __init__(self, request_id: str, ttl_seconds: int) -> None:
        self._key = keys.reply(request_id)
        self._ttl = ttl_seconds

    def token(self, text: str) -> None:
        self.push({"event": "token", "text": text})

    def reset(self, reason: str) -> None:
        self.push({"event": "reset", "reason": reason})

    def push(self, event: dict) -> None:
        with runtime.redis.pipeline() as pipe:
            pipe.rpush(self._key, json.dumps(event))
            pipe.expire(self._key, self._ttl)
            pipe.execute()


@cache
def _chat_model() -> ChatModel | None:
    return create_chat_model(runtime.settings)


@cache
def _embedder() -> CachedEmbedder:
    """The model behind the embedding cache: an extractive answer embeds the sentences of its passages,
    and passages come back for question after question, so their sentences are embedded once, not
    per question (the cache is the ingest's: a sentence's vector is the vector of its text)."""
    return CachedEmbedder(runtime.embedder, EmbeddingCache(runtime.cache, runtime.settings.embedding_cache_ttl_seconds))


@cache
def _rerank_service() -> HttpReranker:
    settings = runtime.settings
    assert settings.rerank_url is not None  # Settings refuses rerank=http without it
    key = settings.rerank_api_key.get_secret_value() if settings.rerank_api_key else None
    return HttpReranker(settings.rerank_url, settings.rerank_api, settings.rerank_model, key, settings.model_timeout_seconds)


def _reranker(embedder: Embedder, generate: Generate | None) -> Rerank | None:
    """The reranking step RAGLINE_RERANK asks for; llm without a chat model configured reranks nothing."""
    settings = runtime.settings
    if settings.rerank == "sentences":
        return sentence_rerank(embedder.embed_documents, settings.rrf_k)
    if settings.rerank == "llm" and generate is not None:
        return llm_rerank(generate)
    if settings.rerank == "http":
        return scored_rerank(_rerank_service().score)
    return None


def _retriever(collection: str, embedder: Embedder) -> Retriever:
    def lexical_search(question: str, n: int, passage_filter: PassageFilter) -> list[str]:
        # Kept in step with the collection's segments (stores/lexical.py), never rebuilt here.
        index = runtime.lexical_indexes.get(collection)
        return index.search(question, n, passage_filter.document_ids, passage_filter.page_ranges)

    return Retriever(
        vector_search=lambda vector, n, passage_filter: runtime.index.query(collection, embedder.name, vector, n, passage_filter),
        lexical_search=lexical_search,
        score=lambda chunk_ids, vector: runtime.index.score(collection, chunk_ids, vector),
    )
