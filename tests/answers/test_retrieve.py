from collections.abc import Sequence

import pytest

from ragline.domain import Passage, PassageFilter
from ragline.pipeline.retrieve import Retriever, retrieve
from ragline.tasks.messages import Filters

pytestmark = pytest.mark.unit


def _passage(chunk_id: str, score: float) -> Passage:
    document_id, page, _ = chunk_id.split(":")
    return Passage(chunk_id=chunk_id, document_id=document_id, filename=f"{document_id}.pdf", page=int(page), text=chunk_id, score=score)


# Cosine scores of a small collection for one question; "d:9:0" holds the exact term but scores low.
COSINE = {"d:1:0": 0.61, "d:2:0": 0.55, "d:3:0": 0.52, "d:4:0": 0.40, "d:9:0": 0.31}
BM25_ORDER = ["d:9:0", "d:3:0"]


def _retriever(calls: list) -> Retriever:
    def vector_search(vector: Sequence[float], n: int, passage_filter: PassageFilter) -> list[Passage]:
        calls.append(("vector", n, passage_filter))
        ranked = sorted(COSINE, key=COSINE.__getitem__, reverse=True)
        return [_passage(c, COSINE[c]) for c in ranked if passage_filter.matches(c.split(":")[0], int(c.split(":")[1]))][:n]

    def lexical_search(question: str, n: int, passage_filter: PassageFilter) -> list[str]:
        calls.append(("lexical", n, passage_filter))
        return BM25_ORDER[:n]

    def score(chunk_ids: list[str], vector: Sequence[float]) -> list[Passage]:
        calls.append(("score", tuple(chunk_ids)))
        return [_passage(c, COSINE[c]) for c in chunk_ids]

    return Retriever(vector_search, lexical_search, score)


def test_vector_mode_asks_only_the_vector_index_for_top_k() -> None:
    calls: list = []
    passages = retrieve("q", [1.0], _retriever(calls), top_k=2)
    assert [p.chunk_id for p in passages] == ["d:1:0", "d:2:0"]
    assert calls == [("vector", 2, PassageFilter())]


def test_hybrid_fuses_both_rankings_and_scores_lexical_only_hits_by_cosine() -> None:
    calls: list = []
    passages = retrieve("q", [1.0], _retriever(calls), top_k=3, mode="hybrid", candidates=4)
    # d:3:0 is third by vector and second by BM25; d:9:0 is BM25's first but outside the vector top 4.
    assert [p.chunk_id for p in passages] == ["d:3:0", "d:1:0", "d:9:0"]
    assert [p.score for p in passages] == [0.52, 0.61, 0.31]
    assert calls == [("vector", 4, PassageFilter()), ("lexical", 4, PassageFilter()), ("score", ("d:9:0",))]


def test_hybrid_needs_no_scores_when_the_vector_search_saw_every_fused_chunk() -> None:
    calls: list = []
    passages = retrieve("q", [1.0], _retriever(calls), top_k=2, mode="hybrid", candidates=5)
    # Both retrievers found d:9:0 now (fifth by vector, first by BM25): agreement lifts it over d:1:0.
    assert [p.chunk_id for p in passages] == ["d:3:0", "d:9:0"]
    assert [kind for kind, *_ in calls] == ["vector", "lexical"]


def test_filters_reach_both_retrievers() -> None:
    calls: list = []
    only = PassageFilter(document_ids=("d",), page_ranges=((2, 4),))
    passages = retrieve("q", [1.0], _retriever(calls), top_k=5, mode="hybrid", passage_filter=only)
    assert {kind for kind, *rest in calls if only in rest} == {"vector", "lexical"}
    assert {p.page for p in passages if p.chunk_id in COSINE and p.chunk_id != "d:9:0"} <= {2, 3, 4}


def _from_task(filters: dict) -> PassageFilter:
    """As the query worker reads the filters of its message."""
    return Filters.model_validate(filters).passage_filter()


def test_passage_filter_matches_documents_and_inclusive_page_ranges() -> None:
    passage_filter = _from_task({"document_ids": ["a", "b"], "page_ranges": [[1, 2], [10, 10]]})
    assert passage_filter.matches("a", 1) and passage_filter.matches("b", 10)
    assert not passage_filter.matches("a", 3)
    assert not passage_filter.matches("c", 1)
    assert _from_task({"page_ranges": [[5, 6]]}).matches("any", 6)
    assert not _from_task({})
    assert _from_task({}).matches("any", 999)
