"""Bad input gets a clear answer and changes nothing already stored."""

from pathlib import Path

import httpx
import pytest

from ragline.stores.vectors import VectorIndex
from tests.conftest import stored, upload, wait_for_job
from tests.integration.conftest import UPLOAD_LIMIT
from tests.pdfs import blank_pages_pdf


def _snapshot(api: httpx.Client, index: VectorIndex, world: dict) -> tuple:
    """The stored state of the world document: its listing entry and its chunk ids."""
    listed = [d for d in api.get("/v1/collections/world/documents").json() if d["document_id"] == world["document_id"]]
    return listed, sorted(index.chunk_ids(stored("world"), world["document_id"]))


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("encrypted_password_openpassword.pdf", "encrypted_pdf"),
        ("malformed_header_only.pdf", "malformed_pdf"),
        ("malformed_broken_xref_zero_pages.pdf", "empty_pdf"),
    ],
)
def test_unusable_pdfs_end_failed_with_a_reason(api: httpx.Client, index: VectorIndex, world: dict, samples: Path, name: str, code: str) -> None:
    before = _snapshot(api, index, world)
    response = upload(api, "world", name, (samples / name).read_bytes())
    assert response.status_code == 202, response.text
    job = wait_for_job(api, response.json()["job_id"])
    assert (job["state"], job["error_code"]) == ("failed", code)
    assert job["error"]
    assert index.chunk_ids(stored("world"), job["document_id"]) == []
    assert _snapshot(api, index, world) == before


def test_tens_of_thousands_of_empty_pages_end_failed(api: httpx.Client, index: VectorIndex, world: dict) -> None:
    before = _snapshot(api, index, world)
    job = wait_for_job(api, upload(api, "world", "blank.pdf", blank_pages_pdf(30_000)).json()["job_id"])
    assert (job["state"], job["error_code"]) == ("failed", "no_extractable_text")
    assert job["progress"]["pages_total"] == 30_000
    assert _snapshot(api, index, world) == before


def test_truncated_pdf_ends_failed(api: httpx.Client, samples: Path) -> None:
    data = (samples / "world_population_wikipedia.pdf").read_bytes()
    job = wait_for_job(api, upload(api, "broken", "truncated.pdf", data[: len(data) // 2]).json()["job_id"])
    assert job["state"] == "failed"
    assert job["error_code"] in ("empty_pdf", "malformed_pdf")


@pytest.mark.parametrize(
    ("filename", "data", "status", "code"),
    [
        ("notes.pdf", b"Just some text, not a PDF at all.", 415, "not_a_pdf"),
        ("empty.pdf", b"", 400, "empty_upload"),
        ("big.pdf", b"%PDF-1.7\n" + b"0" * UPLOAD_LIMIT, 413, "upload_too_large"),
    ],
)
def test_bad_uploads_are_refused_at_once(api: httpx.Client, index: VectorIndex, world: dict, filename: str, data: bytes, status: int, code: str) -> None:
    before = _snapshot(api, index, world)
    response = upload(api, "world", filename, data)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert _snapshot(api, index, world) == before


def test_upload_exactly_at_the_limit_is_accepted(api: httpx.Client) -> None:
    data = b"%PDF-1.7\n" + b"0" * (UPLOAD_LIMIT - 9)
    response = upload(api, "limits", "at-limit.pdf", data)
    assert response.status_code == 202
    assert wait_for_job(api, response.json()["job_id"])["state"] == "failed"


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"document": ("a.pdf", b"%PDF-1.4", "application/pdf")}, "invalid_upload"),
        ([("file", ("a.pdf", b"%PDF-1.4 a", "application/pdf")), ("file", ("b.pdf", b"%PDF-1.4 b", "application/pdf"))], "invalid_upload"),
        ({"file": ("x" * 300 + ".pdf", b"%PDF-1.4", "application/pdf")}, "invalid_filename"),
    ],
)
def test_multipart_tricks_are_refused(api: httpx.Client, files: object, code: str) -> None:
    response = api.post("/v1/collections/world/documents", files=files)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_non_multipart_body_is_refused(api: httpx.Client) -> None:
    response = api.post("/v1/collections/world/documents", content=b"%PDF-1.4", headers={"content-type": "application/pdf"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_upload"


def test_workers_survive_bad_input(api: httpx.Client, world: dict) -> None:
    response = api.post("/v1/collections/world/query", json={"question": "When did the world population exceed eight billion?"})
    assert response.status_code == 200, response.text
    assert response.json()["grounded"] is True
