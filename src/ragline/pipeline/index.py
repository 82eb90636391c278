"""Embed chunks in batches and hand each batch to a store, reporting progress as batches land."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ragline.domain import Chunk
from ragline.pipeline.tables import embedding_text

Embed = Callable[[list[str]], list[list[float]]]
Store = Callable[[Sequence[Chunk], list[list[float]]], None]


def index_chunks(
    chunks: Sequence[Chunk],
    embed: Embed,
    store: Store,
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Embed and store `chunks` batch by batch; `on_batch` gets the running count of chunks stored.
    Tables are embedded as their cells (see tables.embedding_text); the store keeps the chunk's text.

    >>> stored = []
    >>> index_chunks([Chunk(1, 0, "a")], embed=lambda t: [[1.0]] * len(t), store=lambda c, v: stored.extend(c))
    1
    """
    done = 0
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        store(batch, embed([embedding_text(chunk.text) for chunk in batch]))
        done += len(batch)
        if on_batch is not None:
            on_batch(done)
    return done


def page_parts(chunks: Sequence[Chunk], pages_per_part: int) -> list[tuple[int, int]]:
    """Split `chunks` (in page order) into [start, stop) ranges that each cover at most
    `pages_per_part` consecutive pages; 0 keeps them all in one range.

    >>> page_parts([Chunk(1, 0, "a"), Chunk(1, 1, "b"), Chunk(2, 0, "c"), Chunk(5, 0, "d")], 2)
    [(0, 3), (3, 4)]
    """
    if not chunks:
        return []
    if pages_per_part == 0:
        return [(0, len(chunks))]
    parts, start = [], 0
    for position, chunk in enumerate(chunks):
        if chunk.page - chunks[start].page >= pages_per_part:
            parts.append((start, position))
            start = position
    parts.append((start, len(chunks)))
    return parts


def bounded_parts(parts: Sequence[tuple[int, int]], max_chunks: int) -> list[tuple[int, int]]:
    """Split every [start, stop) range of more than `max_chunks` chunks into near-equal pieces (within
    a page if need be: one page of a text dump can hold thousands of chunks); 0 keeps them as they are.

    >>> bounded_parts([(0, 3), (3, 13)], 4)
    [(0, 3), (3, 6), (6, 9), (9, 13)]
    """
    if max_chunks == 0:
        return list(parts)
    bounded = []
    for start, stop in parts:
        pieces = max(-(-(stop - start) // max_chunks), 1)
        edges = [start + (stop - start) * piece // pieces for piece in range(pieces + 1)]
        bounded.extend(zip(edges, edges[1:]))
    return bounded
