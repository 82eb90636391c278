"""Retrieval: vector-only, or hybrid (vector + BM25 fused by reciprocal rank), with metadata filters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragline.domain import Passage, PassageFilter, RetrievalMode
from ragline.pipeline.fusion import reciprocal_rank_fusion


@dataclass(frozen=True)
class Retriever:
    """What retrieval needs from the stores, as plain callables (all already bound to one collection).

    vector_search(vector, n, filter): the n closest passages, best first, with cosine scores.
    lexical_search(question, n, filter): chunk ids, best BM25 first.
    score(chunk_ids, vector): those chunks as passages with their cosine scores.
    """

    vector_search: Callable[[Sequence[float], int, PassageFilter], list[Passage]]
    lexical_search: Callable[[str, int, PassageFilter], list[str]]
    score: Callable[[list[str], Sequence[float]], list[Passage]]


def retrieve(
    question: str,
    question_vector: Sequence[float],
    retriever: Retriever,
    top_k: int,
    mode: RetrievalMode = "vector",
    passage_filter: PassageFilter = PassageFilter(),
    candidates: int = 20,
    rrf_k: int = 60,
) -> list[Passage]:
    """The `top_k` passages for the question, best first; every passage carries its cosine score.

    In hybrid mode each retriever proposes `max(candidates, top_k)` chunks and the fused order
    decides; chunks only BM25 found get their cosine score from their stored vectors, so the
    relevance threshold means the same thing in both modes.
    """
    if mode == "vector":
        return retriever.vector_search(question_vector, top_k, passage_filter)
    pool = max(candidates, top_k)
    by_vector = retriever.vector_search(question_vector, pool, passage_filter)
    by_words = retriever.lexical_search(question, pool, passage_filter)
    fused = reciprocal_rank_fusion([[p.chunk_id for p in by_vector], by_words], k=rrf_k)[:top_k]
    known = {passage.chunk_id: passage for passage in by_vector}
    missing = [chunk_id for chunk_id in fused if chunk_id not in known]
    if missing:
        known.update((passage.chunk_id, passage) for passage in retriever.score(missing, question_vector))
    return [known[chunk_id] for chunk_id in fused if chunk_id in known]
