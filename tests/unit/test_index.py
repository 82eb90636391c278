from ragline.pipeline.index import index_chunks
from ragline.pipeline.split import Chunk


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
