"""A query task that fails with an unexpected exception answers at once with a 500 problem, a trace id
and no internals, instead of leaving the asker to wait out the query timeout."""

from __future__ import annotations

from pathlib import Path

import chromadb
import httpx

from ragline.localstack import LocalStack
from ragline.stores.vectors import CHROMA_PREFIX
from tests.conftest import stored, upload, wait_for_job, wait_until

# Well below the stack's RAGLINE_QUERY_TIMEOUT_SECONDS (20): a reply that waited for the timeout fails here.
CLIENT_TIMEOUT_SECONDS = 8


def test_an_unexpected_worker_failure_reaches_the_client_as_a_500_problem(stack: LocalStack, api: httpx.Client, samples: Path) -> None:
    job = wait_for_job(api, upload(api, "corrupted", "world.pdf", (samples / "world_population_wikipedia.pdf").read_bytes()).json()["job_id"])
    assert job["state"] == "done", job
    # Corrupt what the worker reads back: no chunk has a usable page number any more.
    host, port = stack.chroma_url.removeprefix("http://").split(":")
    collection = chromadb.HttpClient(host=host, port=int(port)).get_collection(CHROMA_PREFIX + stored("corrupted"))
    ids = collection.get(include=[])["ids"]
    collection.update(ids=ids, metadatas=[{"page": "not-a-page"}] * len(ids))

    response = api.post(
        "/v1/collections/corrupted/query",
        json={"question": "What is the median age of human beings?", "retrieval": "vector"},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )
    assert response.status_code == 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "internal"
    # null here: this stack records no traces (tests/observability checks ids end to end).
    assert "trace_id" in problem
    assert "not-a-page" not in response.text and "Traceback" not in response.text
    log = stack.service("query-worker").log_path
    assert log is not None
    # The stack copies each process's output to its log from a thread of its own: give it a moment.
    wait_until(lambda: "ValueError" in log.read_text(), 30, "the worker's traceback in its log")
