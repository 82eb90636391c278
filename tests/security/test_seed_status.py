"""The seed's /task-status answers only for the caller's own demo tasks: another tenant's task, or the
id of a query task (whose stored result holds an answer), is unknown, never a 500 or a leak."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import ARTIFACTS, upload, wait_for_job, wait_until


def _finished(client: httpx.Client, task_id: str) -> dict:
    return wait_until(
        lambda: (status := client.get(f"/task-status/{task_id}").json())["status"] in ("COMPLETED", "FAILED") and status,
        60,
        f"demo task {task_id}",
    )


def test_the_owner_reads_its_demo_tasks_in_the_seed_shape(acme: httpx.Client) -> None:
    added = acme.post("/add/1/2").json()["task_id"]
    assert _finished(acme, added) == {"task_id": added, "status": "COMPLETED", "result": 3, "error": None}
    divided = acme.post("/divide/1/0").json()["task_id"]
    failed = _finished(acme, divided)
    assert failed["status"] == "FAILED"
    assert "ZeroDivisionError" in failed["error"]


def test_another_tenants_demo_task_is_unknown(acme: httpx.Client, globex: httpx.Client) -> None:
    task_id = acme.post("/add/40/2").json()["task_id"]
    _finished(acme, task_id)
    response = globex.get(f"/task-status/{task_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "result" not in response.json() and "COMPLETED" not in response.text


def test_a_query_task_id_is_unknown_and_its_answer_stays_out_of_the_logs(acme: httpx.Client, globex: httpx.Client, samples: Path) -> None:
    job = wait_for_job(acme, upload(acme, "seedq", "nics.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes()).json()["job_id"])
    assert job["state"] == "done"
    completion = acme.post(
        "/v1/chat/completions", json={"model": "seedq", "messages": [{"role": "user", "content": "How many handgun checks in Texas?"}]}
    )
    assert completion.status_code == 200, completion.text
    # The completion id carries the query task's id.
    task_id = completion.json()["id"].removeprefix("chatcmpl-")
    answer = completion.json()["choices"][0]["message"]["content"].split("\n\nSources:")[0]
    for client in (acme, globex):
        response = client.get(f"/task-status/{task_id}")
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert answer[:60] not in (ARTIFACTS / "logs" / "security.log").read_text()
