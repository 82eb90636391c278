"""The query worker: embed the question, retrieve from one collection, answer with citations.

Run with: celery -A ragline.worker.query worker -Q query --concurrency 1 --prefetch-multiplier 1
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from functools import cache, lru_cache

from celery import Task
from celery.signals import worker_process_init

from ragline.domain import Embedder, PassageFilter
from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.answer import Generate
from ragline.pipeline.query import QueryOptions, answer_question
from ragline.pipeline.rerank import Rerank, llm_rerank, scored_rerank, sentence_rerank
from ragline.pipeline.retrieve import Retriever
from ragline.providers.cached import CachedEmbedder
from ragline.providers.llm import ChatModel
from ragline.providers.rerank import HttpReranker
from ragline.stores import keys
from ragline.stores.answers import AnswerCache
from ragline.stores.embeddings import EmbeddingCache
from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE
from ragline.tasks import names
from ragline.tasks.celery_app import make_celery
from ragline.tasks.messages import Generation, QueryTask, Reranking
from ragline.telemetry.instruments import measured_generation, record_answer
from ragline.telemetry.worker import install_worker_telemetry, setup_worker_process
from ragline.worker.presence import track_presence
from ragline.worker.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

app = make_celery("query")
track_presence(names.QUERY_QUEUE)
install_worker_telemetry(names.QUERY_QUEUE, names.tasks_on(names.QUERY_QUEUE))
runtime = WorkerRuntime()
# How long an error reply to a message that did not validate (so names no wait of its own) is kept.
UNREAD_ERROR_TTL_SECONDS = 300


@worker_process_init.connect
def _load_model(**_: object) -> None:
    setup_worker_process(names.QUERY_QUEUE)
    runtime.embedder  # noqa: B018 - load in the child, after the fork, before the first task


@app.task(name=names.QUERY_TASK, bind=True)
def query_task(self: Task, message: dict) -> dict:
    """Answer a QueryTask (tasks/messages.py), then push the answer to the reply list the API is blocked on.

    Every choice the answer depends on comes from the message, resolved by the API; this worker's own
    settings give only its connections, its credentials and the embedding model it has loaded.
    """
    reply = _Reply(self.request.id, UNREAD_ERROR_TTL_SECONDS)
    try:
        task = QueryTask.model_validate(message)
        reply.ttl = task.reply_ttl_seconds
        payload = _answer(task, reply)
        # A fallback is an outage's answer, not the question's: the next asker should get the model's.
        if task.cache_key and payload["mode"] != "extractive_fallback":
            _cache(task.cache_key, task.cache_ttl_seconds, payload)
    except RaglineError as exc:
        payload = {"event": "error", "error": {"code": exc.code.code, "detail": exc.detail}}
    except REDIS_UNAVAILABLE as exc:
        logger.warning("query failed, redis unavailable request_id=%s error=%s", self.request.id, exc)
        payload = {"event": "error", "error": {"code": ErrorCode.DEPENDENCY_UNAVAILABLE.code, "detail": "Redis is unavailable; retry shortly"}}
    except Exception:
        # Any other failure is answered too, at once: the asker must not wait out the query timeout
        # for a reply that never comes. The traceback stays in this log, under the request's trace id.
        logger.exception("query failed request_id=%s", self.request.id)
        payload = {"event": "error", "error": {"code": ErrorCode.INTERNAL.code, "detail": "the query worker failed; its log has the details under this trace id"}}
    reply.push(payload)
    return _outcome(payload)


def _answer(task: QueryTask, reply: _Reply) -> dict:
    answering = task.answering
    embedder = _embedder()
    if embedder.name != answering.embedding_model:
        raise RaglineError(
            ErrorCode.EMBEDDING_MODEL_MISMATCH,
            f"the question was sent for embedding model {answering.embedding_model}, but this query worker embeds with "
            f"{embedder.name}: give the API and the query workers the same embedding settings",
        )
    query_options = QueryOptions(
        top_k=answering.top_k,
        threshold=answering.threshold,
        max_sentences=answering.max_sentences,
        retrieval=answering.retrieval,
        mode=answering.mode,
        passage_filter=answering.filters.passage_filter(),
        history=answering.history,
        candidates=answering.candidates,
        rrf_k=answering.rrf_k,
        rerank_candidates=answering.reranking.candidates if answering.reranking else QueryOptions.rerank_candidates,
        condense_with_model=answering.condense == "auto",
    )
    model = _chat_model(answering.generation) if answering.generation is not None else None
    generate = measured_generation(model.name, model.stream) if model is not None else None
    answer = answer_question(
        task.question,
        embedder,
        _retriever(task.collection, embedder),
        query_options,
        generate=generate,
        sink=reply if task.stream else None,
        rerank=_reranker(answering.reranking, answering.rrf_k, embedder, generate) if answering.reranking else None,
    )
    record_answer(task.collection, answer.grounded, answer.mode, answer.fallback_reason, len(answer.citations), answer.best_score)
    return {
        "event": "answer",
        "answer": answer.answer,
        "grounded": answer.grounded,
        "citations": [asdict(passage) for passage in answer.citations],
        "mode": answer.mode,
        "fallback_reason": answer.fallback_reason,
        "retrieval": answering.retrieval,
        "timings": answer.timings,
        "standalone_question": answer.standalone_question,
    }


def _cache(cache_key: str, ttl_seconds: int, payload: dict) -> None:
    """Best effort (stores/cache_redis.py): an answer that could not be cached is still the answer."""
    AnswerCache(runtime.redis, runtime.cache, ttl_seconds).put(cache_key, payload)


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
        self.ttl = ttl_seconds

    def token(self, text: str) -> None:
        self.push({"event": "token", "text": text})

    def reset(self, reason: str) -> None:
        self.push({"event": "reset", "reason": reason})

    def push(self, event: dict) -> None:
        with runtime.redis.pipeline() as pipe:
            pipe.rpush(self._key, json.dumps(event))
            pipe.expire(self._key, self.ttl)
            pipe.execute()


@lru_cache(maxsize=8)
def _chat_model(generation: Generation) -> ChatModel:
    """One client per chat model the API asks for; the API key is this worker's own."""
    api_key = runtime.settings.openai_api_key
    return ChatModel(
        model=generation.model,
        base_url=generation.base_url,
        api_key=api_key.get_secret_value() if api_key else None,
        timeout_seconds=generation.timeout_seconds,
        max_tokens=generation.max_tokens,
        temperature=generation.temperature,
    )


@cache
def _embedder() -> CachedEmbedder:
    """The model behind the embedding cache: an extractive answer embeds the sentences of its passages,
    and passages come back for question after question, so their sentences are embedded once, not
    per question (the cache is the ingest's: a sentence's vector is the vector of its text)."""
    return CachedEmbedder(runtime.embedder, EmbeddingCache(runtime.cache, runtime.settings.embedding_cache_ttl_seconds))


@lru_cache(maxsize=8)
def _rerank_service(reranking: Reranking) -> HttpReranker:
    """One client per rerank service the API asks for; the key is this worker's own."""
    assert reranking.url is not None and reranking.api is not None and reranking.timeout_seconds is not None
    key = runtime.settings.rerank_api_key
    return HttpReranker(reranking.url, reranking.api, reranking.model, key.get_secret_value() if key else None, reranking.timeout_seconds)


def _reranker(reranking: Reranking, rrf_k: int, embedder: Embedder, generate: Generate | None) -> Rerank | None:
    """The reranking step the message asks for; llm without a chat model configured reranks nothing."""
    if reranking.kind == "sentences":
        return sentence_rerank(embedder.embed_documents, rrf_k)
    if reranking.kind == "llm":
        return llm_rerank(generate) if generate is not None else None
    return scored_rerank(_rerank_service(reranking).score)


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
