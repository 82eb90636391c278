"""Answer a question from a collection: embed it, retrieve the best chunks, answer with citations."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Literal

from ragline.domain import Embedder, GenerationFailed, PassageFilter, RetrievalMode
from ragline.pipeline.answer import Answer, Generate, TokenSink, extractive_answer, generative_answer
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
    # Earlier (role, text) turns of a conversation, for the chat model; retrieval uses the question only.
    history: tuple[tuple[str, str], ...] = ()
    candidates: int = 20
    rrf_k: int = 60


def answer_question(
    question: str,
    embedder: Embedder,
    retriever: Retriever,
    options: QueryOptions,
    generate: Generate | None = None,
    sink: TokenSink | None = None,
) -> Answer:
    """Retrieve, then answer in the requested mode; the answer's `timings` has seconds per step.

    A generative answer that fails (no model configured, timeout, error, no valid citation) falls
    back to the extractive answer, marked `extractive_fallback` with the reason. With a `sink`,
    the answer streams to it as it is written; a generated text withdrawn by a fallback is reset.

        answer = answer_question("Who wrote it?", embedder, retriever, QueryOptions(top_k=5, threshold=0.3))
    """
    started = time.perf_counter()
    question_vector = embedder.embed_query(question)
    embedded = time.perf_counter()
    passages = retrieve(
        question,
        question_vector,
        retriever,
        options.top_k,
        options.retrieval,
        options.passage_filter,
        options.candidates,
        options.rrf_k,
    )
    retrieved = time.perf_counter()

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
        "embed": round(embedded - started, 4),
        "retrieve": round(retrieved - embedded, 4),
        "answer": round(finished - retrieved, 4),
    }
    return replace(answer, timings=timings)


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
