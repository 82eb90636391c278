"""Hybrid retrieval and metadata filters through the real service."""

from pathlib import Path

import httpx

from tests.answers.conftest import ask, ingest

AIRPLANES = "How many airplanes of U.S. registry does the proposed AD affect?"


def test_filters_keep_every_citation_inside_the_pages_asked_for(api: httpx.Client, world: dict) -> None:
    question = "How did the world population grow?"
    only = {"page_ranges": [{"first": 13, "last": 14}, {"first": 2, "last": 2}]}
    for retrieval in ("vector", "hybrid"):
        body = ask(api, "world", question, retrieval=retrieval, filters=only)
        assert body["retrieval"] == retrieval
        assert body["citations"], body
        assert {c["page"] for c in body["citations"]} <= {2, 13, 14}


def test_filters_by_document_and_refuse_bad_ranges(api: httpx.Client, samples: Path) -> None:
    nics = ingest(api, "two-docs", samples / "fbi_nics_checks_2015_11_table.pdf")
    ingest(api, "two-docs", samples / "federal_register_2020_17221_three_column.pdf")
    for retrieval in ("vector", "hybrid"):
        body = ask(api, "two-docs", AIRPLANES, retrieval=retrieval, filters={"document_ids": [nics["document_id"]]})
        assert {c["document_id"] for c in body["citations"]} <= {nics["document_id"]}
    response = api.post(
        "/v1/collections/two-docs/query", json={"question": AIRPLANES, "filters": {"page_ranges": [{"first": 5, "last": 2}]}}
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"


def test_hybrid_finds_what_exact_words_find_in_documents_ingested_after_its_index_was_built(
    api: httpx.Client, samples: Path
) -> None:
    ingest(api, "growing", samples / "fbi_nics_checks_2015_11_table.pdf")
    # Builds the query worker's BM25 index of the collection as it is now: one document.
    ask(api, "growing", AIRPLANES, retrieval="hybrid")
    ingest(api, "growing", samples / "federal_register_2020_17221_three_column.pdf")

    by_vector = ask(api, "growing", AIRPLANES, top_k=1, retrieval="vector")
    by_both = ask(api, "growing", AIRPLANES, top_k=1, retrieval="hybrid")
    # "73 airplanes of U.S. registry" is on page 5: BM25 ranks it first, the embedding alone does not.
    assert [c["page"] for c in by_vector["citations"]] != [5]
    assert [(c["filename"], c["page"]) for c in by_both["citations"]] == [("federal_register_2020_17221_three_column.pdf", 5)]
    assert "73 airplanes" in by_both["answer"]
