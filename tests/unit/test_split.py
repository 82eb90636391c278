from ragline.domain import Chunk, chunk_id
from ragline.pipeline.extract import PageText
from ragline.pipeline.split import split_pages

PROSE = " ".join(f"Sentence number {n} says something about page content." for n in range(200))


def test_chunks_stay_on_their_page_and_respect_the_size() -> None:
    pages = [PageText(1, PROSE), PageText(2, ""), PageText(3, PROSE[:500])]
    chunks = split_pages(pages, chunk_size=400, chunk_overlap=50)
    assert {chunk.page for chunk in chunks} == {1, 3}
    assert all(len(chunk.text) <= 400 for chunk in chunks)
    assert [chunk.index for chunk in chunks if chunk.page == 3] == [0, 1]


def test_chunk_indexes_count_within_each_page() -> None:
    chunks = split_pages([PageText(1, PROSE), PageText(2, PROSE)], chunk_size=1000, chunk_overlap=150)
    for page in (1, 2):
        indexes = [chunk.index for chunk in chunks if chunk.page == page]
        assert indexes == list(range(len(indexes)))


def test_consecutive_chunks_overlap() -> None:
    first, second = split_pages([PageText(1, PROSE)], chunk_size=300, chunk_overlap=100)[:2]
    assert first.text[-40:] in second.text


def test_split_is_deterministic_and_ids_name_document_page_and_index() -> None:
    pages = [PageText(4, PROSE)]
    assert split_pages(pages, 500, 50) == split_pages(pages, 500, 50)
    assert chunk_id("abc", Chunk(page=4, index=2, text="x")) == "abc:4:2"
