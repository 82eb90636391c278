"""One real stack for the answer tests: Redis, Chroma, Celery workers, the API, and a llama.cpp chat server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack
from tests.answers.llama_server import smollm2
from tests.conftest import running_stack, upload, wait_for_job

# Long enough for SmolLM2 to read the two worked examples and two sources (~950 tokens) and write 64 tokens
# on a 2-core machine shared with other work (prompt reading fell to 30 tokens/s under load, from ~250
# alone; a restarted server has no cached prefix); the timeout test waits this long once.
LLM_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """With a local chat model, which the stack runs and points the workers at (RAGLINE_LLM_BASE_URL)."""
    env = {
        "RAGLINE_LLM_TIMEOUT_SECONDS": str(LLM_TIMEOUT_SECONDS),
        "RAGLINE_LLM_MAX_TOKENS": "64",
        "RAGLINE_QUERY_TIMEOUT_SECONDS": "30",
        # SmolLM2 cannot be relied on to rewrite a follow-up: the rules do it here (the model's part is
        # tests/unit/test_conversation.py).
        "RAGLINE_CONDENSE": "rules",
    }
    with running_stack("answers", tmp_path_factory.mktemp("answers"), extra_env=env, chat_model=smollm2()) as running:
        yield running


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=120) as client:
        yield client


def ingest(api: httpx.Client, collection: str, path: Path) -> dict:
    """Upload a PDF into the collection and wait until its job is done; returns the job."""
    response = upload(api, collection, path.name, path.read_bytes())
    assert response.status_code in (200, 202), response.text
    job = wait_for_job(api, response.json()["job_id"])
    assert job["state"] == "done", job
    return job


@pytest.fixture(scope="session")
def world(api: httpx.Client, samples: Path) -> dict:
    """The world population article in collection `world`; returns its finished job."""
    return ingest(api, "world", samples / "world_population_wikipedia.pdf")


def ask(api: httpx.Client, collection: str, question: str, **options: object) -> dict:
    response = api.post(f"/v1/collections/{collection}/query", json={"question": question, **options})
    assert response.status_code == 200, response.text
    return response.json()


def read_events(response: httpx.Response) -> list[tuple[str | None, object]]:
    """Server-Sent Events as (event name or None, decoded data), in order."""
    events: list[tuple[str | None, object]] = []
    name, data = None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif not line and data:
            raw = "\n".join(data)
            events.append((name, raw if raw == "[DONE]" else json.loads(raw)))
            name, data = None, []
    return events


def ask_streaming(api: httpx.Client, collection: str, question: str, **options: object) -> list[tuple[str | None, object]]:
    body = {"question": question, "stream": True, **options}
    with api.stream("POST", f"/v1/collections/{collection}/query", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return read_events(response)
