"""A tenant can never list, query, stream, download or delete another tenant's collections or jobs."""

from pathlib import Path

import httpx
import pytest

from tests.conftest import ARTIFACTS, upload, wait_for_job
from tests.security.conftest import KEYS


@pytest.fixture(scope="module")
def acme_job(acme: httpx.Client, samples: Path) -> dict:
    response = upload(acme, "reports", "nics.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes())
    assert response.status_code == 202, response.text
    job = wait_for_job(acme, response.json()["job_id"])
    assert job["state"] == "done"
    return job


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/collections/reports/documents"),
        ("POST", "/v1/collections/reports/query"),
        ("GET", "/v1/jobs/" + "0" * 32),
        ("POST", "/add/1/2"),
        ("GET", "/task-status/" + "0" * 32),
        ("POST", "/rag-individual-tasks/?filename=x.pdf"),
    ],
)
def test_every_data_endpoint_needs_a_valid_key(anonymous: httpx.Client, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-real-key-at-all"}, {"Authorization": "Basic abc"}):
        response = anonymous.request(method, path, headers=headers, json={"question": "q"})
        assert response.status_code == 401, (path, headers)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["code"] == "unauthorized"


def test_health_stays_open(anonymous: httpx.Client) -> None:
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/readyz").status_code == 200


def test_the_owner_sees_its_collection(acme: httpx.Client, acme_job: dict) -> None:
    assert [d["document_id"] for d in acme.get("/v1/collections/reports/documents").json()] == [acme_job["document_id"]]
    assert acme_job["collection"] == "reports"
    answer = acme.post("/v1/collections/reports/query", json={"question": "How many handgun checks were there in Texas?"})
    assert answer.status_code == 200
    assert answer.json()["citations"]


def test_another_tenant_sees_nothing_of_it(globex: httpx.Client, acme_job: dict) -> None:
    document_id, job_id = acme_job["document_id"], acme_job["job_id"]
    assert globex.get("/v1/collections/reports/documents").json() == []
    assert globex.post("/v1/collections/reports/query", json={"question": "Texas handgun checks?"}).status_code == 404
    assert globex.get(f"/v1/jobs/{job_id}").status_code == 404
    assert globex.get(f"/v1/jobs/{job_id}/events").status_code == 404
    assert globex.get(f"/v1/collections/reports/documents/{document_id}/file").status_code == 404
    assert globex.delete(f"/v1/collections/reports/documents/{document_id}").status_code == 404


def test_same_name_and_bytes_in_two_tenants_stay_apart(acme: httpx.Client, globex: httpx.Client, acme_job: dict, samples: Path) -> None:
    response = upload(globex, "reports", "mine.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes())
    assert response.status_code == 202, "another tenant's copy must not count as a duplicate"
    job = wait_for_job(globex, response.json()["job_id"])
    assert job["state"] == "done"
    assert globex.delete(f"/v1/collections/reports/documents/{job['document_id']}").status_code == 204
    assert globex.get("/v1/collections/reports/documents").json() == []
    acme_documents = acme.get("/v1/collections/reports/documents").json()
    assert [(d["document_id"], d["filename"], d["state"]) for d in acme_documents] == [(acme_job["document_id"], "nics.pdf", "done")]


def test_keys_never_reach_the_logs(acme: httpx.Client, globex: httpx.Client, acme_job: dict) -> None:
    log = (ARTIFACTS / "logs" / "security.log").read_text()
    assert "Bearer" not in log
    for key in KEYS.values():
        assert key not in log
