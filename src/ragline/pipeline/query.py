"""Answer a question from a collection: embed it, retrieve the best chunks, answer with citations."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Literal

from ragline.domain import Embedder, GenerationFailed, PassageFilter, RetrievalMode
from ragline.pipeline.answer import Answer, Generate, TokenSink, extractive_answer, generative_answer
from ragline.pipeline.conversation import condense
from ragline.pipeline.rerank import Rerank
from ragline.pipeline.retrieve import Retriever, retrieve

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryOptions:
    top_k: int
    threshold: float
    max_sentences: int = 3
    retrieval: RetrievalMode = "vector"
    mode: Literal["extractive", "generative"] = "extractive"
    passage_filter: PassageFilter = PassageFilter()
    # Earlier (role, text) turns of a conversation: the question is made standalone with them before
    # retrieval (pipeline.conversation), and the chat model sees them.
    history: tuple[tuple[str, str], ...] = ()
    # Whether the chat model (when there is one) rewrites follow-ups; else, or when it fails, rules do.
    condense_with_model: bool = True
    candidates: int = 20
    rrf_k: int = 60
    # With a reranker: how many fused passages it reorders before the first top_k are kept.
    rerank_candidates: int = 10


def answer_question(
    question: str,
    embedder: Embedder,
    retriever: Retriever,
    options: QueryOptions,
    generate: Generate | None = None,
    sink: TokenSink | None = None,
    rerank: Rerank | None = None,
) -> Answer:
    """Make a follow-up standalone, retrieve, rerank, then answer in the requested mode; the answer's
    `timings` has seconds per step.

    A generative answer that fails (no model configured, timeout, error, no valid citation) falls
    back to the extractive answer, marked `extractive_fallback` with the reason. With a `sink`,
    the answer streams to it as it is written; a generated text withdrawn by a fallback is reset.

        answer = answer_question("Who wrote it?", embedder, retriever, QueryOptions(top_k=5, threshold=0.3))
    """
    started = time.perf_counter()
    asked = question
    question = condense(question, options.history, generate if options.condense_with_model else None)
    condensed = time.perf_counter()
    question_vector = embedder.embed_query(question)
    embedded = time.perf_counter()
    passages = retrieve(
        question,
        question_vector,
        retriever,
        options.top_k if rerank is None else max(options.top_k, options.rerank_candidates),
        options.retrieval,
        options.passage_filter,
        options.candidates,
        options.rrf_k,
    )
    retrieved = time.perf_counter()
    if rerank is not None:
        passages = rerank(question, question_vector, passages)[: options.top_k]
    reranked = time.perf_counter()

    def extract() -> Answer:
        return extractive_answer(
            question_vector, passages, embedder.embed_documents, options.threshold, options.max_sentences, question
        )

    if options.mode == "generative":
        relay = _Relay(sink)
        try:
            if generate is None:
                raise GenerationFailed("not_configured", "no chat model is configured (RAGLINE_LLM_BASE_URL or OPENAI_API_KEY)")
            answer = generative_answer(question, passages, generate, options.threshold, options.history, relay)
        except GenerationFailed as exc:
            logger.warning("generative answer failed, falling back to extractive reason=%s detail=%s", exc.reason, exc)
            if relay.sent and sink is not None:
                sink.reset(exc.reason)
            answer = replace(extract(), mode="extractive_fallback", fallback_reason=exc.reason)
            if sink is not None:
                sink.token(answer.answer)
    else:
        answer = extract()
        if sink is not None:
            sink.token(answer.answer)
    finished = time.perf_counter()
    timings = {
        **({"condense": round(condensed - started, 4)} if options.history else {}),
        "embed": round(embedded - condensed, 4),
        "retrieve": round(retrieved - embedded, 4),
        **({"rerank": round(reranked - retrieved, 4)} if rerank is not None else {}),
        "answer": round(finished - reranked, 4),
    }
    best_score = max((passage.score for passage in passages), default=None)
    return replace(answer, timings=timings, standalone_question=question if question != asked else None, best_score=best_score)


class _Relay:
    """Passes tokens on and remembers whether any reached the client, so a fallback knows to reset."""

    def __init__(self, sink: TokenSink | None) -> None:
        self._sink = sink
        self.sent = False

    def token(self, text: str) -> None:
        self.sent = True
        if self._sink is not None:
            self._sink.token(text)

    def reset(self, reason: str) -> None:
        if self._sink is not None:
            self._sink.reset(reason)
