"""The seed's demo surface: /add, /divide, /task-status, /rag-individual-tasks."""

import shutil
import time
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack
from tests.conftest import wait_for_job


def _final_status(api: httpx.Client, task_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = api.get(f"/task-status/{task_id}").json()
        if status["status"] in ("COMPLETED", "FAILED"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish: {status}")


def test_add_runs_on_the_default_worker(api: httpx.Client) -> None:
    submitted = api.post("/add/2/3").json()
    assert submitted["status"] == "Task submitted"
    assert _final_status(api, submitted["task_id"]) == {"task_id": submitted["task_id"], "status": "COMPLETED", "result": 5, "error": None}


def test_divide_by_zero_fails_with_the_reason(api: httpx.Client) -> None:
    assert _final_status(api, api.post("/divide/9/3").json()["task_id"])["result"] == 3.0
    failed = _final_status(api, api.post("/divide/1/0").json()["task_id"])
    assert failed["status"] == "FAILED"
    assert "ZeroDivisionError" in failed["error"]


def test_task_status_refuses_a_malformed_id(api: httpx.Client) -> None:
    assert api.get("/task-status/..%2f..%2fetc").status_code in (404, 422)


def test_rag_individual_tasks_ingests_a_file_from_the_data_folder(api: httpx.Client, stack: LocalStack, samples: Path) -> None:
    shutil.copy(samples / "fbi_nics_checks_2015_11_table.pdf", stack.data_dir / "pdfs" / "nics.pdf")
    response = api.post("/rag-individual-tasks/", params={"filename": "nics.pdf", "collection": "seed"})
    assert response.status_code == 202, response.text
    assert wait_for_job(api, response.json()["job_id"])["state"] == "done"


@pytest.mark.parametrize(
    ("filename", "status"),
    [
        ("../pdfs/nics.pdf", 400),
        ("../../etc/passwd", 400),
        ("/etc/passwd", 400),
        ("..", 400),
        ("sub\\..\\nics.pdf", 400),
        ("nics\x00.pdf", 400),
        ("ni\x1bcs.pdf", 400),
        ("missing.pdf", 404),
    ],
)
def test_rag_individual_tasks_stays_inside_the_data_folder(api: httpx.Client, filename: str, status: int) -> None:
    response = api.post("/rag-individual-tasks/", params={"filename": filename})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
