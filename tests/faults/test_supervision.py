"""`ragline up` heals itself, as a container runtime's restart policy would: kill -9 the ingest worker
in the middle of the 467-page book, or Redis, or Chroma, and the stack starts it again by itself; the
API answers again and the job in flight ends `done` with exactly the chunks of a clean run. A child
that keeps failing right at its start is given up on, alone, with its log tail."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from ragline.stores.vectors import VectorIndex
from tests.conftest import stored, upload, wait_for_job, wait_until
from tests.e2e.running import Up, ragline_up
from tests.faults.conftest import HEARTBEAT_TTL, STALL, clean_run_ids

BOOK = "art_of_public_speaking_gutenberg.pdf"
NOVEL = "pride_and_prejudice.pdf"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    env = {"RAGLINE_WORKER_HEARTBEAT_TTL_SECONDS": str(HEARTBEAT_TTL), "RAGLINE_JOB_STALL_SECONDS": str(STALL)}
    with ragline_up("faults-supervised", tmp_path_factory.mktemp("supervised"), ["--no-ui"], env) as running:
        yield running


@pytest.fixture(scope="module")
def api(up: Up) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=up.api_url, timeout=60) as client:
        yield client


def _indexing(api: httpx.Client, job_id: str) -> bool:
    return api.get(f"/v1/jobs/{job_id}").json()["progress"]["chunks_done"] > 0


def _ready(api: httpx.Client) -> bool:
    try:
        return api.get("/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _ingesting(api: httpx.Client, samples: Path, collection: str, name: str) -> str:
    """Upload a sample and return its job id once its first chunks are indexed."""
    response = upload(api, collection, name, (samples / name).read_bytes())
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    wait_until(lambda: _indexing(api, job_id), 600, "indexing to start")
    return job_id


def _kill(up: Up, marker: str) -> psutil.Process:
    """kill -9 of a service's main process, as an operator or the OOM killer would."""
    process = up.child(marker)
    process.kill()
    return process


def _comes_back(up: Up, name: str, marker: str, old: psutil.Process) -> None:
    """The stack says it restarts the service after the first backoff, and a new process answers."""
    wait_until(lambda: f"{name} exited with status -9; restarting in 1 s (restart 1)" in up.output(), 30, "the restart notice")
    wait_until(lambda: "--- ragline: ready in" in up.service_log(name).split("exited with status")[-1], 240, f"{name} to be back")
    assert up.child(marker).pid != old.pid


def _assert_clean(up: Up, samples: Path, collection: str, name: str, job: dict) -> None:
    assert job["state"] == "done", job
    ids = VectorIndex(up.chroma_url).chunk_ids(stored(collection), job["document_id"])
    assert sorted(ids) == clean_run_ids(samples / name, job["document_id"])
    assert job["progress"]["chunks_total"] == len(ids)


def test_a_killed_ingest_worker_comes_back_by_itself_and_its_job_finishes(up: Up, api: httpx.Client, samples: Path) -> None:
    job_id = _ingesting(api, samples, "book", BOOK)
    worker = _kill(up, "ragline.worker.ingest")
    interrupted = api.get(f"/v1/jobs/{job_id}").json()
    assert interrupted["state"] == "running"
    assert interrupted["progress"]["chunks_done"] < interrupted["progress"]["chunks_total"]

    _comes_back(up, "ingest-worker", "ragline.worker.ingest", worker)
    job = wait_for_job(api, job_id, timeout=900)
    _assert_clean(up, samples, "book", BOOK, job)
    assert [d["state"] for d in api.get("/v1/collections/book/documents").json()] == ["done"]
    assert up.process.poll() is None, "one dead child never takes the stack down"


def test_killed_redis_and_chroma_come_back_and_the_accepted_job_finishes(up: Up, api: httpx.Client, samples: Path) -> None:
    job_id = _ingesting(api, samples, "novel", NOVEL)
    # Redis keeps every write in its append-only file: the job and the queued tasks outlive the kill.
    _comes_back(up, "redis", "redis-server", _kill(up, "redis-server"))
    wait_until(lambda: _ready(api), 120, "the API to be ready again after Redis")
    assert api.get(f"/v1/jobs/{job_id}").json()["state"] in ("queued", "running", "done")

    _comes_back(up, "chroma", "chroma run", _kill(up, "chroma run"))
    wait_until(lambda: _ready(api), 120, "the API to be ready again after Chroma")

    job = wait_for_job(api, job_id, timeout=900)
    _assert_clean(up, samples, "novel", NOVEL, job)
    assert up.process.poll() is None


@pytest.mark.slow
def test_a_child_that_keeps_failing_at_start_is_given_up_on_alone(up: Up, api: httpx.Client) -> None:
    """Chroma's port taken while it is down: every restart fails at once; after five it is left alone (about 45 s)."""
    chroma = up.child("chroma run")
    with socket.socket() as squatter:
        chroma.kill()
        chroma.wait(timeout=30)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", up.ports.chroma))
        squatter.listen()
        wait_until(lambda: "giving up on it" in up.output(), 180, "the stack to give up on chroma")
    console = up.output()
    console = console[console.rindex("chroma exited with status -9") :]
    # Each restart failed at once (chroma exits 0 when its address is taken), each after twice the wait.
    notices = re.findall(r"chroma exited with status (\S+); restarting in (\d+) s \(restart (\d+)\)", console)
    assert [status for status, _, _ in notices] == ["-9"] + ["0"] * (len(notices) - 1)
    delays = [int(delay) for _, delay, _ in notices]
    assert len(delays) >= 4 and delays == [delays[0] * 2**n for n in range(len(delays))]
    restarts = [int(restart) for _, _, restart in notices]
    assert restarts == list(range(restarts[0], restarts[0] + len(restarts)))
    assert "chroma exited with status 0; its last 5 restarts each ended within 60 s: giving up on it" in console
    assert f"Address 127.0.0.1:{up.ports.chroma} is not available" in console.split("giving up on it")[-1], "its log tail"
    assert up.process.poll() is None
    assert api.get("/healthz").status_code == 200
    readiness = api.get("/readyz")
    assert readiness.status_code == 503 and readiness.json()["checks"]["chroma"].startswith("unreachable")
