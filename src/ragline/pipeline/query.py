"""Answer a question from a collection: embed it, retrieve the closest chunks, extract the answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ragline.pipeline.answer import Answer, Passage, extractive_answer
from ragline.providers.embeddings import Embedder

Search = Callable[[Sequence[float], int], list[Passage]]


def answer_question(
    question: str,
    embedder: Embedder,
    search: Search,
    top_k: int,
    threshold: float,
    max_sentences: int,
) -> Answer:
    """`search(vector, top_k)` returns the collection's closest passages, best first."""
    question_vector = embedder.embed_query(question)
    passages = search(question_vector, top_k)
    return extractive_answer(question_vector, passages, embedder.embed_documents, threshold, max_sentences)
