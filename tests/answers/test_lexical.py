from ragline.domain import LexicalEntry
from ragline.pipeline.lexical import LexicalIndex, tokenize


def _entry(n: int, text: str, document_id: str = "doc") -> LexicalEntry:
    return LexicalEntry(chunk_id=f"{document_id}:{n}:0", document_id=document_id, page=n, text=text)


def test_tokens_drop_stopwords_possessives_and_plurals() -> None:
    assert tokenize("What are the Cities' populations of Europe's countries?") == ["city", "population", "europe", "country"]
    assert tokenize("AD 2018–23–51 and FAA-2020-0686") == ["ad", "2018", "23", "51", "faa", "2020", "0686"]
    assert tokenize("class status virus") == ["class", "status", "virus"]


def test_rare_exact_terms_outrank_common_ones() -> None:
    index = LexicalIndex(
        [
            _entry(1, "Population growth in Europe and population decline in Japan."),
            _entry(2, "David Pimentel studied food supply and population."),
            _entry(3, "Population estimates by region, population by country, population density."),
        ]
    )
    assert index.search("Which ecologist named Pimentel wrote about population?", 3)[0] == "doc:2:0"
    assert index.search("population density", 1) == ["doc:3:0"]


def test_only_chunks_with_a_query_term_are_returned() -> None:
    index = LexicalIndex([_entry(1, "stick shaker warns of a stall"), _entry(2, "median age of humans")])
    assert index.search("median age", 10) == ["doc:2:0"]
    assert index.search("chocolate cake recipe", 10) == []
    assert LexicalIndex([]).search("anything", 5) == []


def test_keep_filters_candidates_without_shortening_the_ranking() -> None:
    index = LexicalIndex([_entry(n, f"wickham elopes chapter {n}", document_id="a" if n % 2 else "b") for n in range(1, 9)])
    kept = index.search("wickham", 3, keep=lambda entry: entry.document_id == "b")
    assert len(kept) == 3
    assert all(chunk_id.startswith("b:") for chunk_id in kept)
