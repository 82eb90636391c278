"""The `ragline` commands as a script runs them: real processes against the real stack, checked by
their output and their exit codes (0 success, 1 a job failed or no grounded answer, 2 bad usage,
3 the API is unreachable or refused)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragline.client import RaglineClient
from ragline.localstack import LocalStack
from tests.conftest import REPO, free_ports
from tests.ui.conftest import API_KEY

WORLD = "world_population_wikipedia.pdf"
ENCRYPTED = "encrypted_password_openpassword.pdf"
ONE_PAGE = "fbi_nics_checks_2015_11_table.pdf"
QUESTION = "What is the median age of human beings?"


def ragline(stack: LocalStack | None, *args: str, key: str = API_KEY) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "RAGLINE_API_KEY": key}
    if stack is not None:
        env["RAGLINE_API_URL"] = stack.api_url
    return subprocess.run([sys.executable, "-m", "ragline.cli", *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def ingested(stack: LocalStack, samples: Path) -> subprocess.CompletedProcess:
    """A good PDF and an encrypted one into collection `cli`, as a person runs it (tables, not JSON)."""
    return ragline(stack, "ingest", str(samples / WORLD), str(samples / ENCRYPTED), "-c", "cli")


def test_ingest_summarises_each_file_and_exits_1_when_one_failed(ingested: subprocess.CompletedProcess) -> None:
    assert ingested.returncode == 1, ingested.stderr
    rows = {line.split("│")[1].strip(): line for line in ingested.stdout.splitlines() if line.startswith("│")}
    assert "done" in rows[WORLD] and "24" in rows[WORLD]
    assert "failed" in rows[ENCRYPTED] and "password-protected" in rows[ENCRYPTED]
    # The progress bars go to stderr, so stdout stays a clean table for scripts that capture it.
    assert "100%" in ingested.stderr


def test_ingest_json_reports_each_job(stack: LocalStack, ingested: subprocess.CompletedProcess, samples: Path) -> None:
    result = ragline(stack, "ingest", str(samples / WORLD), "-c", "cli", "--json")
    assert result.returncode == 0, result.stderr
    [job] = json.loads(result.stdout)
    assert (job["filename"], job["state"], job["progress"]["pages_total"]) == (WORLD, "done", 24)
    assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"] > 0


def test_ask_prints_the_answer_and_its_citations(stack: LocalStack, ingested: subprocess.CompletedProcess) -> None:
    result = ragline(stack, "ask", QUESTION, "-c", "cli")
    assert result.returncode == 0, result.stderr
    assert "The median age of human beings as of 2020 is 31 years. [1]" in result.stdout
    first_row = next(line for line in result.stdout.splitlines() if line.startswith("│ 1 "))
    assert [cell.strip() for cell in first_row.split("│")[2:4]] == [WORLD, "1"]

    answer = json.loads(ragline(stack, "ask", QUESTION, "-c", "cli", "--json").stdout)
    assert (answer["citations"][0]["filename"], answer["citations"][0]["page"], answer["grounded"]) == (WORLD, 1, True)


def test_ask_require_grounded_exits_1_when_the_documents_do_not_hold_the_answer(stack: LocalStack, ingested: subprocess.CompletedProcess) -> None:
    result = ragline(stack, "ask", "How do I bake sourdough bread at home?", "-c", "cli", "--require-grounded")
    assert result.returncode == 1
    assert "Not found in the documents." in result.stdout


def test_status_of_a_job_exits_1_only_when_it_failed(stack: LocalStack, samples: Path, ingested: subprocess.CompletedProcess) -> None:
    jobs = {job["filename"]: job for job in json.loads(ragline(stack, "ingest", str(samples / WORLD), str(samples / ENCRYPTED), "-c", "cli", "--json").stdout)}
    done = ragline(stack, "status", jobs[WORLD]["job_id"])
    assert done.returncode == 0 and "done" in done.stdout and "pages 24/24" in done.stdout
    failed = ragline(stack, "status", jobs[ENCRYPTED]["job_id"])
    assert failed.returncode == 1 and "password-protected" in failed.stdout


def test_status_without_a_job_shows_readiness_and_the_collections_documents(stack: LocalStack, ingested: subprocess.CompletedProcess) -> None:
    result = ragline(stack, "status", "-c", "cli")
    assert result.returncode == 0, result.stderr
    assert "ready" in result.stdout and WORLD in result.stdout
    report = json.loads(ragline(stack, "status", "-c", "cli", "--json").stdout)
    assert report["ready"] is True and set(report["checks"].values()) == {"ok"}
    assert [document["filename"] for document in report["documents"]] == [WORLD]


def test_delete_takes_a_file_name_or_an_id_prefix_and_refuses_ambiguity(stack: LocalStack, client: RaglineClient, samples: Path) -> None:
    for name in (ONE_PAGE, WORLD):
        assert ragline(stack, "ingest", str(samples / name), "-c", "cli-delete").returncode == 0
    listed = json.loads(ragline(stack, "documents", "-c", "cli-delete", "--json").stdout)
    assert sorted(document["filename"] for document in listed) == sorted([ONE_PAGE, WORLD])

    assert ragline(stack, "delete", "no-such-file.pdf", "-c", "cli-delete").returncode == 2
    # Too short to name one document safely, even where it happens to match only one.
    assert ragline(stack, "delete", listed[0]["document_id"][:3], "-c", "cli-delete").returncode == 2

    by_name = ragline(stack, "delete", ONE_PAGE, "-c", "cli-delete")
    assert by_name.returncode == 0 and f"deleted {ONE_PAGE}" in by_name.stdout
    world_id = next(d["document_id"] for d in listed if d["filename"] == WORLD)
    assert ragline(stack, "delete", world_id[:12], "-c", "cli-delete").returncode == 0
    assert client.documents("cli-delete") == []


def test_a_wrong_key_exits_3_and_says_which_option_sets_it(stack: LocalStack) -> None:
    result = ragline(stack, "documents", "-c", "cli", key="not-the-right-key-0000")
    assert result.returncode == 3
    assert "not valid" in result.stderr and "--api-key" in result.stderr


@pytest.mark.parametrize("command", [["status"], ["delete", "report.pdf"]])
def test_an_unreachable_api_exits_3(command: list[str]) -> None:
    result = ragline(None, *command, "--api-url", f"http://127.0.0.1:{free_ports().api}")
    assert result.returncode == 3
    assert "cannot reach the API" in result.stderr


def test_other_formats_through_the_cli_are_cited_by_location(stack: LocalStack) -> None:
    """A PPTX and a Markdown file, uploaded by `ragline ingest`, answered with the slide and the heading."""
    documents = REPO / "samples" / "documents"
    deck, chapter = documents / "pride_and_prejudice_ch1-2.pptx", documents / "art_of_public_speaking_ch2.md"
    ingest = ragline(stack, "ingest", str(deck), str(chapter), "-c", "cli-formats")
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    rows = {line.split("│")[1].strip(): line for line in ingest.stdout.splitlines() if line.startswith("│")}
    assert "done" in rows[deck.name] and "12" in rows[deck.name]
    answer = ragline(stack, "ask", "Who has taken Netherfield Park?", "-c", "cli-formats", "--json")
    assert answer.returncode == 0, answer.stderr
    citations = json.loads(answer.stdout)["citations"]
    assert any(c["filename"] == deck.name and c["location"].startswith("slide ") for c in citations), citations
    table = ragline(stack, "ask", "What is the cardinal and most common sin of the public speaker?", "-c", "cli-formats")
    assert table.returncode == 0, table.stderr
    assert "Chapter II: The Sin of Monotony" in table.stdout
