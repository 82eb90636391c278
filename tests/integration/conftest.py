"""One real local stack (Redis, Chroma, three Celery workers, the API) for the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack
from ragline.stores.vectors import VectorIndex
from tests.conftest import api_client, stack_fixture, upload, wait_for_job

UPLOAD_LIMIT = 3_000_000


# Two OCR pages per task: a five-page scan is read by three tasks (tests/integration/test_formats.py).
stack = stack_fixture(
    "integration",
    {"RAGLINE_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT), "RAGLINE_QUERY_TIMEOUT_SECONDS": "20", "RAGLINE_OCR_PAGES_PER_TASK": "2"},
)


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with api_client(stack) as client:
        yield client


@pytest.fixture(scope="session")
def index(stack: LocalStack) -> VectorIndex:
    return VectorIndex(stack.chroma_url)


@pytest.fixture(scope="session")
def world(api: httpx.Client, samples: Path) -> dict:
    """The world population article, ingested once into collection `world`; returns its finished job."""
    response = upload(api, "world", "world_population_wikipedia.pdf", (samples / "world_population_wikipedia.pdf").read_bytes())
    assert response.status_code == 202, response.text
    job = wait_for_job(api, response.json()["job_id"])
    assert job["state"] == "done", job
    return job
