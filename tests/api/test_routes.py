"""Routes that need Redis and nothing else, through the real app in-process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ragline.config import Settings
from ragline.domain import DocumentRecord
from ragline.stores import keys
from ragline.stores.bundle import Stores
from ragline.stores.documents import Quota
from ragline.stores.jobs import Job
from ragline.tenancy import DEFAULT_TENANT, scope
from tests.api.conftest import KEYS

pytestmark = pytest.mark.api

DOCUMENT_ID = "a" * 64


def _problem(response, status: int, code: str) -> dict:  # noqa: ANN001 - an httpx.Response
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code and problem["status"] == status
    return problem


def _document(settings: Settings, collection: str, state: str = "done", pages: int = 3) -> DocumentRecord:
    """A document record as an ingest would have left it, written straight to Redis."""
    stores = Stores(settings)
    record = DocumentRecord(document_id=DOCUMENT_ID, filename="a.pdf", job_id="j" * 32, state=state, pages=pages, size_bytes=10)  # type: ignore[arg-type]
    assert stores.documents.claim(scope(DEFAULT_TENANT, collection), record, Quota()).holder is None
    return record


def test_liveness_is_ok_and_readiness_names_the_dependency_that_is_down(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    problem = _problem(client.get("/readyz"), 503, "dependency_unavailable")
    assert problem["checks"]["redis"] == "ok"
    assert problem["checks"]["chroma"].startswith("unreachable")


def test_a_job_is_read_from_redis_and_says_no_worker_runs_it(client: TestClient, settings: Settings) -> None:
    job = Job(job_id="b" * 32, document_id=DOCUMENT_ID, collection=scope(DEFAULT_TENANT, "docs"), filename="a.pdf")
    Stores(settings).jobs.create(job)
    body = client.get(f"/v1/jobs/{job.job_id}").json()
    assert (body["state"], body["collection"], body["waiting_for_worker"]) == ("queued", "docs", True)
    _problem(client.get(f"/v1/jobs/{'c' * 32}"), 404, "not_found")


def test_another_tenants_job_does_not_exist(make_client: Callable[..., TestClient], settings: Settings) -> None:
    client = make_client(api_keys=SecretStr(",".join(f"{key}={tenant}" for tenant, key in KEYS.items())))
    job = Job(job_id="d" * 32, document_id=DOCUMENT_ID, collection=scope("acme", "docs"), filename="a.pdf")
    Stores(settings).jobs.create(job)
    assert client.get(f"/v1/jobs/{job.job_id}", headers={"Authorization": f"Bearer {KEYS['acme']}"}).status_code == 200
    _problem(client.get(f"/v1/jobs/{job.job_id}", headers={"Authorization": f"Bearer {KEYS['globex']}"}), 404, "not_found")
    problem = _problem(client.get(f"/v1/jobs/{job.job_id}"), 401, "unauthorized")
    assert "trace_id" in problem


def test_requests_over_the_rate_limit_are_refused_with_retry_after(make_client: Callable[..., TestClient]) -> None:
    client = make_client(rate_limit_per_minute=2)
    assert [client.get("/v1/models").status_code for _ in range(2)] == [200, 200]
    response = client.get("/v1/models")
    _problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0


def test_documents_are_listed_and_one_being_ingested_cannot_be_deleted(client: TestClient, settings: Settings) -> None:
    _document(settings, "docs", state="running")
    listed = client.get("/v1/collections/docs/documents").json()
    assert [(d["document_id"], d["state"]) for d in listed] == [(DOCUMENT_ID, "running")]
    _problem(client.delete(f"/v1/collections/docs/documents/{DOCUMENT_ID}"), 409, "document_busy")
    assert client.get("/v1/models").json()["data"][0]["id"] == "docs"


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [(b"", 400, "empty_upload"), (b"<html>not a pdf</html>", 415, "not_a_pdf")],
)
def test_uploads_that_are_no_pdf_are_refused_before_anything_is_stored(
    client: TestClient, settings: Settings, data: bytes, status: int, code: str
) -> None:
    _problem(client.post("/v1/collections/docs/documents", files={"file": ("a.pdf", data, "application/pdf")}), status, code)
    assert client.get("/v1/collections/docs/documents").json() == []
    assert not redis.Redis.from_url(str(settings.redis_url)).keys(keys.job("*")), "no job was recorded"


def test_a_pdf_upload_with_chroma_down_is_refused_at_once(client: TestClient) -> None:
    response = client.post("/v1/collections/docs/documents", files={"file": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})
    _problem(response, 503, "dependency_unavailable")
    assert "Retry-After" in response.headers


def test_questions_are_checked_before_any_worker_is_asked(client: TestClient, settings: Settings) -> None:
    _problem(client.post("/v1/collections/empty/query", json={"question": "why?"}), 404, "not_found")
    _problem(client.post("/v1/collections/docs/query", json={"question": "why\x07?"}), 422, "invalid_question")
    _document(settings, "docs", pages=3)
    past_the_end = {"question": "why?", "filters": {"page_ranges": [{"first": 4, "last": 9}]}}
    _problem(client.post("/v1/collections/docs/query", json=past_the_end), 422, "invalid_filter")
    # A good question needs Chroma, which the probe found down: refused at once, not after a timeout.
    _problem(client.post("/v1/collections/docs/query", json={"question": "why?"}), 503, "dependency_unavailable")


def test_an_unexpected_failure_is_a_500_problem_without_internals(client: TestClient, settings: Settings) -> None:
    """A job record that no longer parses (written by hand, or by a broken release) fails the route."""
    job_id = "f" * 32
    redis.Redis.from_url(str(settings.redis_url)).hset(keys.job(job_id), mapping={"job_id": job_id, "pages_done": "many"})
    response = client.get(f"/v1/jobs/{job_id}")
    problem = _problem(response, 500, "internal")
    assert "trace_id" in problem
    assert "many" not in response.text and "ValueError" not in response.text


def test_an_unknown_demo_task_is_not_found(client: TestClient) -> None:
    _problem(client.get(f"/task-status/{'e' * 32}"), 404, "not_found")
