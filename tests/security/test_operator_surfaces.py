"""Flower, the operator's view of every task, asks for credentials, and shows no tenant's data even to
an operator who has them: no question, chat history, file name or answer in its pages or its API."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.flower_auth import PASSWORD_FILE, local_flower_auth, stored_password
from ragline.localstack import LocalStack
from ragline.tasks import names
from tests.conftest import api_client, running_stack, upload, wait_for_job, wait_until

# Words that appear nowhere in Flower unless it shows a task's arguments or result.
QUESTION = "Zanzibar-quokka check: what was the world population in 1804?"
SECRET_FILENAME = "tenant-secret-merger-plans.pdf"
UNAUTHENTICATED = ("/", "/tasks", "/tasks/datatable", "/api/tasks", "/workers", "/broker")
# What Flower's task list page asks its table endpoint for: the newest 100 tasks.
DATATABLE = {"draw": 1, "start": 0, "length": 100, "search[value]": "", "order[0][column]": 0,
             "columns[0][data]": "started", "order[0][dir]": "desc"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack("operator-surfaces", tmp_path_factory.mktemp("operator-surfaces"), with_flower=True) as running:
        yield running


@pytest.fixture(scope="module")
def credentials(stack: LocalStack) -> tuple[str, str]:
    user, password = local_flower_auth(stack.data_dir, stack.env()).value.split(":", 1)
    return user, password


@pytest.fixture(scope="module")
def asked(stack: LocalStack, samples: Path) -> dict:
    """One document uploaded under a telling name and one question asked: the API's answer."""
    with api_client(stack) as api:
        response = upload(api, "surfaces", SECRET_FILENAME, (samples / "world_population_wikipedia.pdf").read_bytes())
        assert response.status_code == 202, response.text
        assert wait_for_job(api, response.json()["job_id"])["state"] == "done"
        answer = api.post("/v1/collections/surfaces/query", json={"question": QUESTION})
        assert answer.status_code == 200, answer.text
        return answer.json()


def _query_task_id(flower: httpx.Client) -> str:
    def succeeded() -> list[str]:
        tasks = flower.get("/api/tasks", params={"taskname": names.QUERY_TASK}).json()
        return [task_id for task_id, task in tasks.items() if task.get("state") == "SUCCESS"]

    return wait_until(succeeded, 60, "Flower to see the query task succeed")[0]  # type: ignore[index]


def test_the_local_password_is_generated_once_and_readable_by_its_owner_only(stack: LocalStack, credentials: tuple[str, str]) -> None:
    path = stack.data_dir / PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials == ("admin", path.read_text().strip())
    assert len(credentials[1]) >= 24
    # The next start reuses it: the operator's saved password keeps working.
    assert stored_password(path) == credentials[1]


def test_every_flower_page_and_api_asks_for_credentials(stack: LocalStack, asked: dict, credentials: tuple[str, str]) -> None:
    assert stack.flower_url is not None
    with httpx.Client(base_url=stack.flower_url, timeout=10, auth=credentials) as flower:
        task_id = _query_task_id(flower)
    for path in (*UNAUTHENTICATED, f"/task/{task_id}", f"/api/task/info/{task_id}", f"/api/task/result/{task_id}"):
        anonymous = httpx.get(stack.flower_url + path, timeout=10)
        assert anonymous.status_code == 401, f"{path} answered {anonymous.status_code} without credentials"
        wrong = httpx.get(stack.flower_url + path, timeout=10, auth=(credentials[0], credentials[1] + "x"))
        assert wrong.status_code == 401, f"{path} answered {wrong.status_code} to a wrong password"
    # Probes and Prometheus need no credentials.
    assert httpx.get(f"{stack.flower_url}/healthcheck", timeout=10).status_code == 200
    assert httpx.get(f"{stack.flower_url}/metrics", timeout=10).status_code == 200


def test_flower_shows_no_question_file_name_or_answer(stack: LocalStack, asked: dict, credentials: tuple[str, str]) -> None:
    assert stack.flower_url is not None
    with httpx.Client(base_url=stack.flower_url, timeout=10, auth=credentials) as flower:
        task_id = _query_task_id(flower)
        pages = {
            "task page": flower.get(f"/task/{task_id}"),
            "task list": flower.get("/tasks"),
            "task table": flower.get("/tasks/datatable", params=DATATABLE),
            "tasks API": flower.get("/api/tasks"),
            "task info API": flower.get(f"/api/task/info/{task_id}"),
            "task result API": flower.get(f"/api/task/result/{task_id}"),
        }
    for what, response in pages.items():
        assert response.status_code == 200, f"{what}: {response.status_code}"
    secrets = {"question": "Zanzibar-quokka", "file name": "merger-plans"}
    if asked["grounded"]:
        secrets["answer"] = asked["answer"][:60]
        secrets["cited text"] = asked["citations"][0]["text"][:60]
    for what, response in pages.items():
        for secret_name, secret in secrets.items():
            assert secret not in response.text, f"Flower's {what} shows the {secret_name}"
    # The page read above does describe the task, with its arguments redacted.
    task_page = pages["task page"].text
    assert names.QUERY_TASK in task_page and task_id in task_page and "redacted" in task_page
    # The ingest steps still show their job ids: an operator can follow a job without seeing its content.
    info = pages["tasks API"].json()
    assert any(task["name"] == names.PDF_READER_TASK and len(task["args"]) > 20 for task in info.values())


def test_explicit_credentials_take_precedence(tmp_path: Path) -> None:
    assert local_flower_auth(tmp_path, {"FLOWER_BASIC_AUTH": "ops:one,audit:two"}).value == "ops:one,audit:two"
    chosen = local_flower_auth(tmp_path, {"RAGLINE_FLOWER_USER": "ops", "RAGLINE_FLOWER_PASSWORD": "s3cret-pass"})
    assert (chosen.value, chosen.source) == ("ops:s3cret-pass", "RAGLINE_FLOWER_PASSWORD")
    assert not (tmp_path / PASSWORD_FILE).exists()
    with pytest.raises(ValueError):
        local_flower_auth(tmp_path, {"RAGLINE_FLOWER_PASSWORD": "a,b"})


def test_a_password_file_left_readable_by_others_is_restricted(tmp_path: Path) -> None:
    path = tmp_path / PASSWORD_FILE
    path.write_text("kept-password\n")
    os.chmod(path, 0o644)
    assert stored_password(path) == "kept-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
