"""Reciprocal rank fusion: merge rankings whose scores are not comparable (cosine vs BM25)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

Item = TypeVar("Item", bound=Hashable)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Item]], k: int = 60) -> list[Item]:
    """Order items by the sum of 1 / (k + rank) over the rankings that hold them (rank is 1-based).

    Ties keep the order in which items were first seen, so the first ranking wins them.

    >>> reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]])
    ['a', 'c', 'b']
    """
    scores: dict[Item, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda item: scores[item], reverse=True)
