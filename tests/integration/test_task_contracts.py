"""The API resolves every choice an answer depends on into the task it sends; the query worker uses the
message, never its own settings for those choices, and the answer cache is keyed on the same message.

The stack's query worker runs with the defaults (hybrid retrieval, top_k 5, relevance threshold 0.4);
other API processes on the same Redis, Chroma and worker run with other settings. Each must get answers
made under its own settings, fresh or from the cache, never under the worker's or another API's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack
from ragline.pipeline.answer import NOT_FOUND_ANSWER
from tests.conftest import another_api, upload, wait_for_job

pytestmark = pytest.mark.integration

# A collection of its own, so that no other test's cached answer is in play.
COLLECTION = "settings"
QUESTION = "What is the median age of human beings?"
# Nothing in the article is this close to the question: every answer under it is "not found".
STRICT = {"RAGLINE_RETRIEVAL": "vector", "RAGLINE_DEFAULT_TOP_K": "1", "RAGLINE_RELEVANCE_THRESHOLD": "0.99"}


@pytest.fixture(scope="module")
def strict_api(stack: LocalStack) -> Iterator[httpx.Client]:
    with another_api(stack, "integration-strict-api", STRICT) as api, httpx.Client(base_url=api.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def ingested(api: httpx.Client, samples: Path) -> dict:
    response = upload(api, COLLECTION, "world_population_wikipedia.pdf", (samples / "world_population_wikipedia.pdf").read_bytes())
    assert response.status_code == 202, response.text
    job = wait_for_job(api, response.json()["job_id"])
    assert job["state"] == "done", job
    return job


def _ask(client: httpx.Client) -> dict:
    response = client.post(f"/v1/collections/{COLLECTION}/query", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    return response.json()


def test_each_api_gets_answers_made_under_its_own_settings(api: httpx.Client, strict_api: httpx.Client, ingested: dict) -> None:
    strict = _ask(strict_api)
    # The worker's own threshold (0.4) and retrieval (hybrid) would have found and cited page 1.
    assert (strict["answer"], strict["grounded"], strict["citations"], strict["retrieval"]) == (NOT_FOUND_ANSWER, False, [], "vector")

    default = _ask(api)
    assert default["grounded"] is True and default["retrieval"] == "hybrid", default
    assert default["cached"] is False, "the strict API's answer must not be served under the default settings"
    assert 1 < len(default["citations"]) <= 5

    # Asked again, each API reads its own answer from the shared cache.
    again_strict, again_default = _ask(strict_api), _ask(api)
    assert again_strict["cached"] is True and again_strict["answer"] == NOT_FOUND_ANSWER
    assert again_default["cached"] is True and again_default["answer"] == default["answer"]


def test_a_request_option_still_wins_over_the_api_settings(strict_api: httpx.Client, ingested: dict) -> None:
    response = strict_api.post(f"/v1/collections/{COLLECTION}/query", json={"question": QUESTION, "retrieval": "hybrid", "top_k": 3})
    assert response.status_code == 200, response.text
    assert response.json()["retrieval"] == "hybrid"


def test_an_api_with_another_embedding_model_is_refused_not_answered(stack: LocalStack, ingested: dict) -> None:
    """The worker cannot embed with the model the API names: it says so instead of answering with its own."""
    env = {"RAGLINE_EMBEDDING_PROVIDER": "openai", "OPENAI_API_KEY": "sk-not-used-by-this-test"}
    with another_api(stack, "integration-openai-api", env) as other, httpx.Client(base_url=other.url, timeout=60) as client:
        response = client.post(f"/v1/collections/{COLLECTION}/query", json={"question": QUESTION})
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "embedding_model_mismatch"
    assert "openai:text-embedding-3-small" in problem["detail"] and "local:all-MiniLM-L6-v2" in problem["detail"]
