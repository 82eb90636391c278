"""The reranking steps: each returns the same passages, reordered, and keeps the retrieval order for what it cannot judge."""

from __future__ import annotations

from collections.abc import Iterator

from ragline.domain import GenerationFailed, Messages, Passage
from ragline.pipeline.rerank import llm_rerank, ranked_first, scored_rerank, sentence_rerank


def _passages(*texts: str) -> list[Passage]:
    return [Passage(f"d:{n}:0", "d", "a.pdf", n, text, 0.5) for n, text in enumerate(texts, start=1)]


def _embed(texts: list[str]) -> list[list[float]]:
    """Unit vectors along 'ocean' (x) or anything else (y): a stand-in embedding model, deterministic."""
    return [[1.0, 0.0] if "ocean" in text else [0.0, 1.0] for text in texts]


def test_sentence_rerank_lifts_the_passage_whose_sentence_answers() -> None:
    passages = _passages(
        "A long introduction about many other topics of the region. Its history is told at length here.",
        "Some unrelated opening sentence about the weather. The ocean here is 4,000 metres deep at most.",
        "Another passage about the roads and the railways of the coast.",
    )
    reranked = sentence_rerank(_embed, rrf_k=1)("How deep is the ocean?", [1.0, 0.0], passages)
    assert [p.page for p in reranked] == [2, 1, 3]


def test_llm_rerank_puts_the_named_passages_first_in_the_models_order() -> None:
    seen: list[Messages] = []

    def generate(messages: Messages) -> Iterator[str]:
        seen.append(messages)
        yield from ["3", ", 1", "\nBecause passage 3 says so."]

    passages = _passages("first", "second", "third")
    reranked = llm_rerank(generate)("Which?", [0.0], passages)
    assert [p.page for p in reranked] == [3, 1, 2]
    assert "[3] third" in seen[0][-1][1]


def test_llm_rerank_keeps_the_order_when_the_model_fails_or_names_none() -> None:
    def failing(messages: Messages) -> Iterator[str]:
        raise GenerationFailed("timeout")
        yield ""

    passages = _passages("first", "second")
    assert llm_rerank(failing)("Which?", [0.0], passages) == passages
    assert llm_rerank(lambda messages: iter(["0"]))("Which?", [0.0], passages) == passages


def test_scored_rerank_orders_by_score_and_survives_a_failing_service() -> None:
    passages = _passages("first", "second", "third")
    assert [p.page for p in scored_rerank(lambda q, texts: [0.1, 0.9, 0.5])("q", [0.0], passages)] == [2, 3, 1]

    def down(question: str, texts: list[str]) -> list[float]:
        raise GenerationFailed("unavailable")

    assert scored_rerank(down)("q", [0.0], passages) == passages


def test_ranked_first_ignores_repeats_and_unknown_numbers() -> None:
    passages = _passages("a", "b", "c")
    assert [p.page for p in ranked_first(passages, [1, 1, 9, -1])] == [2, 1, 3]
