"""BM25 over segments added and removed one document at a time (pure: no servers)."""

import math
import random
from collections import Counter

import numpy as np
import pytest

from ragline.domain import LexicalEntry
from ragline.pipeline import lexical
from ragline.pipeline.lexical import K1, B, LexicalIndex, LexicalSegment, tokenize

pytestmark = pytest.mark.unit


def _entry(n: int, text: str, document_id: str = "doc") -> LexicalEntry:
    return LexicalEntry(chunk_id=f"{document_id}:{n}:0", document_id=document_id, page=n, text=text)


def _index(*entries: LexicalEntry) -> LexicalIndex:
    """Each document's entries as one segment, in the order they are given."""
    index = LexicalIndex()
    documents = dict.fromkeys(entry.document_id for entry in entries)
    index.update(added=[LexicalSegment.build(d, [e for e in entries if e.document_id == d]) for d in documents])
    return index


def test_tokens_drop_stopwords_possessives_and_plurals() -> None:
    assert tokenize("What are the Cities' populations of Europe's countries?") == ["city", "population", "europe", "country"]
    assert tokenize("AD 2018–23–51 and FAA-2020-0686") == ["ad", "2018", "23", "51", "faa", "2020", "0686"]
    assert tokenize("class status virus") == ["class", "status", "virus"]


def test_rare_exact_terms_outrank_common_ones() -> None:
    index = _index(
        _entry(1, "Population growth in Europe and population decline in Japan."),
        _entry(2, "David Pimentel studied food supply and population."),
        _entry(3, "Population estimates by region, population by country, population density."),
    )
    assert index.search("Which ecologist named Pimentel wrote about population?", 3)[0] == "doc:2:0"
    assert index.search("population density", 1) == ["doc:3:0"]


def test_only_chunks_with_a_query_term_are_returned() -> None:
    index = _index(_entry(1, "stick shaker warns of a stall"), _entry(2, "median age of humans"))
    assert index.search("median age", 10) == ["doc:2:0"]
    assert index.search("chocolate cake recipe", 10) == []
    assert LexicalIndex().search("anything", 5) == []


def test_filters_keep_candidates_without_shortening_the_ranking() -> None:
    index = _index(*(_entry(n, f"wickham elopes chapter {n}", document_id="a" if n % 2 else "b") for n in range(1, 9)))
    kept = index.search("wickham", 3, document_ids=["b"])
    assert len(kept) == 3 and all(chunk_id.startswith("b:") for chunk_id in kept)
    assert sorted(index.search("wickham", 10, page_ranges=[(2, 3), (8, 8)])) == ["a:3:0", "b:2:0", "b:8:0"]
    assert index.search("wickham", 10, document_ids=["gone"]) == []


def test_a_segment_survives_its_bytes() -> None:
    segment = LexicalSegment.build("d", [_entry(1, "Wickham's regiment", "d"), _entry(2, "", "d")])
    again = LexicalSegment.from_bytes(segment.to_bytes())
    assert again.document_id == "d" and again.chunk_ids == ("d:1:0", "d:2:0")
    for name in ("pages", "lengths", "terms", "starts", "positions", "counts"):
        assert np.array_equal(getattr(again, name), getattr(segment, name)), name


def test_removed_documents_stop_matching_and_replaced_ones_match_their_new_words() -> None:
    index = _index(_entry(1, "mcas trims the stabilizer", "a"), _entry(1, "stick shaker stall warning", "b"))
    index.update(removed=["a"])
    assert index.search("mcas stabilizer", 5) == []
    assert len(index) == 1 and index.documents == {"b"}
    index.update(added=[LexicalSegment.build("b", [_entry(1, "angle of attack sensor", "b")])])
    assert index.search("stick shaker", 5) == []
    assert index.search("attack sensor", 5) == ["b:1:0"]


def _reference_scores(entries: list[LexicalEntry], query: str) -> dict[str, float]:
    """Okapi BM25 with Lucene's idf, written out plainly: what the index must rank by."""
    counted = {entry.chunk_id: Counter(tokenize(entry.text)) for entry in entries}
    average = sum(sum(c.values()) for c in counted.values()) / len(entries) or 1.0
    scores = {}
    for chunk_id, counts in counted.items():
        length = sum(counts.values())
        score = 0.0
        for term in set(tokenize(query)):
            df = sum(1 for c in counted.values() if term in c)
            if counts[term]:
                idf = math.log(1 + (len(entries) - df + 0.5) / (df + 0.5))
                score += idf * counts[term] * (K1 + 1) / (counts[term] + K1 * (1 - B + B * length / average))
        if score > 0:
            scores[chunk_id] = score
    return scores


def test_ranking_matches_plain_bm25_through_adds_removes_merges_and_compaction(monkeypatch) -> None:
    # Small blocks and an early compaction, so twenty documents go through every path.
    monkeypatch.setattr(lexical, "MAX_BLOCK_POSTINGS", 300)
    monkeypatch.setattr(lexical, "COMPACT_MIN_DEAD", 30)
    rng = random.Random(7)
    words = [f"term{n}" for n in range(60)]
    documents = {
        f"doc{d}": [_entry(p, " ".join(rng.choices(words, weights=range(60, 0, -1), k=rng.randint(0, 40))), f"doc{d}") for p in range(1, 11)]
        for d in range(20)
    }
    index = LexicalIndex()
    held: dict[str, list[LexicalEntry]] = {}
    for step, (document, entries) in enumerate(documents.items()):
        index.update(added=[LexicalSegment.build(document, entries)])
        held[document] = entries
        if step % 3 == 2:
            gone = rng.sample(sorted(held), 2)
            index.update(removed=gone)
            for document in gone:
                del held[document]
        live = [entry for entries in held.values() for entry in entries]
        for query in ("term1 term7", "term30 term59 term2", "term44"):
            expected = _reference_scores(live, query)
            ranked = index.search(query, 100)
            assert set(ranked) == set(expected), (step, query)
            scores = [expected[chunk_id] for chunk_id in ranked]
            assert all(a >= b - 1e-4 for a, b in zip(scores, scores[1:], strict=False)), (step, query)
    assert len(index) == sum(len(entries) for entries in held.values())
