import httpx
import pytest

from ragline.pipeline.answer import NOT_FOUND_ANSWER


def _ask(api: httpx.Client, collection: str, question: str, **extra: object) -> httpx.Response:
    return api.post(f"/v1/collections/{collection}/query", json={"question": question, **extra})


def test_answer_cites_the_page_that_holds_it(api: httpx.Client, world: dict) -> None:
    # top_k=4: a question no other test of the session asks, so its answer is not already cached.
    response = _ask(api, "world", "What is the median age of human beings?", top_k=4)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["grounded"] is True
    assert body["cached"] is False
    top = body["citations"][0]
    assert (top["filename"], top["page"], top["document_id"]) == ("world_population_wikipedia.pdf", 1, world["document_id"])
    assert "The median age of human beings as of 2020 is 31 years. [1]" in body["answer"]
    assert "[1]" in body["answer"]
    assert all(c["score"] >= 0.3 for c in body["citations"])


def test_top_k_bounds_the_citations(api: httpx.Client, world: dict) -> None:
    body = _ask(api, "world", "Which countries have the largest populations?", top_k=2).json()
    assert 1 <= len(body["citations"]) <= 2


def test_question_the_documents_cannot_answer_is_not_found(api: httpx.Client, world: dict) -> None:
    body = _ask(api, "world", "What is the recipe for a chocolate cake?").json()
    assert (body["answer"], body["grounded"], body["citations"]) == (NOT_FOUND_ANSWER, False, [])


def test_retrieval_stays_inside_the_collection(api: httpx.Client, world: dict) -> None:
    body = _ask(api, "world", "Who is Mr. Darcy and whom does he marry?").json()
    assert {c["filename"] for c in body["citations"]} <= {"world_population_wikipedia.pdf"}


def test_collection_without_documents_is_not_found(api: httpx.Client) -> None:
    response = _ask(api, "nothing-here", "anything?")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"question": ""}, "invalid_request"),
        ({"question": "   "}, "invalid_question"),
        ({"question": "x" * 2001}, "invalid_question"),
        ({"question": "why\x07 now"}, "invalid_question"),
        ({"question": "ok", "top_k": 0}, "invalid_request"),
        ({"top_k": 3}, "invalid_request"),
    ],
)
def test_bad_questions_are_refused_as_problems(api: httpx.Client, world: dict, body: dict, code: str) -> None:
    response = api.post("/v1/collections/world/query", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.json()["detail"]


@pytest.mark.parametrize("name", ["a", "-leading", "trailing_", "has space", "dots.in.it", "x" * 64, "%2e%2e"])
def test_invalid_collection_names_are_refused(api: httpx.Client, name: str) -> None:
    response = api.post(f"/v1/collections/{name}/query", json={"question": "hi"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_collection"
