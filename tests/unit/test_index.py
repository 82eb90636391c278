import pytest

from ragline.domain import Chunk
from ragline.pipeline.index import index_chunks, page_parts


def test_chunks_are_embedded_and_stored_in_batches_with_progress() -> None:
    chunks = [Chunk(page=1, index=n, text=f"chunk {n}") for n in range(7)]
    stored: list[tuple[list[str], list[list[float]]]] = []
    progress: list[int] = []

    total = index_chunks(
        chunks,
        embed=lambda texts: [[float(len(text))] for text in texts],
        store=lambda batch, vectors: stored.append(([c.text for c in batch], vectors)),
        batch_size=3,
        on_batch=progress.append,
    )

    assert total == 7
    assert progress == [3, 6, 7]
    assert [len(texts) for texts, _ in stored] == [3, 3, 1]
    assert stored[2] == (["chunk 6"], [[7.0]])


def _pages(*pages: int) -> list[Chunk]:
    return [Chunk(page=page, index=0, text="t") for page in pages]


@pytest.mark.parametrize(
    ("pages", "per_part", "parts"),
    [
        ((1, 1, 2, 3, 4, 5), 2, [(0, 3), (3, 5), (5, 6)]),
        ((1, 2, 3), 0, [(0, 3)]),
        ((1, 2, 3), 10, [(0, 3)]),
        # Pages without text leave gaps: a range is counted in pages, not chunks.
        ((1, 9, 10, 30), 10, [(0, 3), (3, 4)]),
        ((), 5, []),
    ],
)
def test_page_parts_cover_every_chunk_once_in_order(pages: tuple[int, ...], per_part: int, parts: list[tuple[int, int]]) -> None:
    chunks = _pages(*pages)
    assert page_parts(chunks, per_part) == parts
    assert [n for start, stop in parts for n in range(start, stop)] == list(range(len(chunks)))
