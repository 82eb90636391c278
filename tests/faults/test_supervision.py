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


def _restarted(up: Up, name: str, marker: str, old: psutil.Process) -> psutil.Process:
    """The service's new process, once the stack has started it again and it answers."""
    wait_until(lambda: "--- ragline: ready in" in up.service_log(name).split("exited with status")[-1], 240, f"{name} to be back")
    new = up.child(marker)
    assert new.pid != old.pid
    return new


def _assert_clean(up: Up, api: httpx.Client, samples: Path, collection: str, name: str, job: dict) -> None:
    assert job["state"] == "done", job
    ids = VectorIndex(up.chroma_url).chunk_ids(stored(collection), job["document_id"])
    assert sorted(ids) == clean_run_ids(samples / name, job["document_id"])
    assert job["progress"]["chunks_total"] == len(ids)


def test_a_killed_ingest_worker_comes_back_by_itself_and_its_job_finishes(up: Up, api: httpx.Client, samples: Path) -> None:
    response = upload(api, "book", BOOK, (samples / BOOK).read_bytes())
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    wait_until(lambda: _indexing(api, job_id), 600, "indexing to start")

    worker = up.child("ragline.worker.ingest")
    worker.kill()  # kill -9 of the worker's main process, as an operator or the OOM killer would
    interrupted = api.get(f"/v1/jobs/{job_id}").json()
    assert interrupted["state"] == "running"
    assert interrupted["progress"]["chunks_done"] < interrupted["progress"]["chunks_total"]

    wait_until(lambda: "ingest-worker exited with status -9; restarting in 1 s (restart 1)" in up.output(), 30, "the restart notice")
    _restarted(up, "ingest-worker", "ragline.worker.ingest", worker)
    job = wait_for_job(api, job_id, timeout=900)
    _assert_clean(up, api, samples, "book", BOOK, job)
    assert [d["state"] for d in api.get("/v1/collections/book/documents").json()] == ["done"]
    assert up.process.poll() is None, "one dead child never takes the stack down"


def test_killed_redis_and_chroma_come_back_and_the_accepted_job_finishes(up: Up, api: httpx.Client, samples: Path) -> None:
    response = upload(api, "novel", NOVEL, (samples / NOVEL).read_bytes())
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    wait_until(lambda: _indexing(api, job_id), 600, "indexing to start")

    # Redis keeps every write in its append-only file: the job and the queued tasks outlive the kill.
    redis_server = up.child("redis-server")
    redis_server.kill()
    wait_until(lambda: "redis exited with status -9; restarting in 1 s (restart 1)" in up.output(), 30, "the restart notice")
    _restarted(up, "redis", "redis-server", redis_server)
    wait_until(lambda: _ready(api), 120, "the API to be ready again after Redis")
    assert api.get(f"/v1/jobs/{job_id}").json()["state"] in ("queued", "running", "done")

    chroma = up.child("chroma run")
    chroma.kill()
    wait_until(lambda: "chroma exited with status -9; restarting in 1 s (restart 1)" in up.output(), 30, "the restart notice")
    _restarted(up, "chroma", "chroma run", chroma)
    wait_until(lambda: _ready(api), 120, "the API to be ready again after Chroma")

    job = wait_for_job(api, job_id, timeout=900)
    _assert_clean(up, api, samples, "novel", NOVEL, job)
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
    console = up.output().split("chroma exited with status -9")[-1]
    # Each restart failed at once (chroma exits 0 when its address is taken), each after twice the wait.
    notices = re.findall(r"chroma exited with status (\S+); restarting in (\d+) s \(restart (\d+)\)", console)
    assert [status for status, _, _ in notices] == ["0"] * 4
    delays = [int(delay) for _, delay, _ in notices]
    assert delays == [delays[0] * 2**n for n in range(4)] and delays[-1] <= 30
    restarts = [int(restart) for _, _, restart in notices]
    assert restarts == list(range(restarts[0], restarts[0] + 4))
    assert "chroma exited with status 0 again, after 5 restarts in a row that each ended within 60 s; giving up on it" in console
    assert f"Address 127.0.0.1:{up.ports.chroma} is not available" in console.split("giving up on it")[-1], "its log tail"
    assert up.process.poll() is None
    assert api.get("/healthz").status_code == 200
    readiness = api.get("/readyz")
    assert readiness.status_code == 503 and readiness.json()["checks"]["chroma"].startswith("unreachable")
