"""Chroma or Redis going away mid-flight: retried with backoff, recovered, never half-done."""

import signal
import time
from pathlib import Path

import httpx
import redis
from celery import Celery

from ragline.config import Settings
from ragline.localstack import LocalStack
from ragline.tasks.celery_app import make_celery
from ragline.stores.vectors import VectorIndex
from tests.conftest import stored, upload, wait_for_job
from tests.conftest import wait_until
from tests.faults.conftest import clean_run_ids, kill

NOVEL = "pride_and_prejudice.pdf"


def _indexing(api: httpx.Client, job_id: str) -> bool:
    return api.get(f"/v1/jobs/{job_id}").json()["progress"]["chunks_done"] > 0


def test_chroma_back_within_the_retry_window_completes_the_job(faulty: LocalStack, api: httpx.Client, samples: Path) -> None:
    response = upload(api, "novel", NOVEL, (samples / NOVEL).read_bytes())
    job_id = response.json()["job_id"]
    wait_until(lambda: _indexing(api, job_id), 600, "indexing to start")
    kill(faulty, "chroma")
    time.sleep(3)
    assert api.get(f"/v1/jobs/{job_id}").json()["state"] == "running", "a half-indexed document is never done"
    faulty.restart("chroma")

    job = wait_for_job(api, job_id, timeout=600)
    assert job["state"] == "done", job
    ids = VectorIndex(faulty.chroma_url).chunk_ids(stored("novel"), job["document_id"])
    assert sorted(ids) == clean_run_ids(samples / NOVEL, job["document_id"])


def test_chroma_gone_for_good_fails_the_job_and_leaves_no_orphans(faulty: LocalStack, api: httpx.Client, samples: Path) -> None:
    data = (samples / NOVEL).read_bytes() + b"\n%another copy"
    job_id = upload(api, "orphans", "copy.pdf", data).json()["job_id"]
    wait_until(lambda: _indexing(api, job_id), 600, "indexing to start")
    kill(faulty, "chroma")
    try:
        job = wait_for_job(api, job_id, timeout=300)
        assert (job["state"], job["error_code"]) == ("failed", "dependency_unavailable")
        assert "Chroma" in job["error"]
        assert api.get("/v1/collections/orphans/documents").json() == []
    finally:
        faulty.restart("chroma")
    index = VectorIndex(faulty.chroma_url)
    wait_until(lambda: index.chunk_ids(stored("orphans"), job["document_id"]) == [], 180, "the partial chunks to be purged")


def _answers_ping(control: Celery, node: str) -> bool:
    try:
        return node in {name for reply in control.control.ping(timeout=1) for name in reply}
    except redis.ConnectionError:
        return False  # connections opened before the restart are dropped once, then re-made


def test_redis_restart_keeps_accepted_jobs_and_the_api_recovers(faulty: LocalStack, api: httpx.Client, samples: Path) -> None:
    names = ["world_population_wikipedia.pdf", "federal_register_2020_17221_three_column.pdf"]
    control = make_celery("test-control", Settings(redis_url=faulty.redis_url))
    ingest_nodes = [node for reply in control.control.ping(timeout=2) for node in reply if node.startswith("ingest@")]
    # Hold the jobs in the queue, so the restart hits accepted work that no worker has taken yet.
    control.control.cancel_consumer("ingest", destination=ingest_nodes, reply=True, timeout=5)
    control.close()
    accepted = [upload(api, "restart", name, (samples / name).read_bytes()).json() for name in names]
    assert redis.Redis.from_url(faulty.redis_url).llen("ingest") == len(names)

    kill(faulty, "redis", signal.SIGTERM)  # a clean shutdown: the append-only file is complete
    try:
        # A hung API would raise ReadTimeout here: while Redis is down it must answer, not wait.
        down = api.get(f"/v1/jobs/{accepted[0]['job_id']}", timeout=10)
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.json()["code"] == "dependency_unavailable"
        assert api.get("/readyz").json()["checks"]["redis"].startswith("unreachable")
    finally:
        faulty.restart("redis")
    assert redis.Redis.from_url(faulty.redis_url).llen("ingest") == len(names), "the queued tasks survived"
    control = make_celery("test-control", Settings(redis_url=faulty.redis_url))
    wait_until(lambda: _answers_ping(control, ingest_nodes[0]), 90, "the ingest worker to reconnect")
    control.control.add_consumer("ingest", destination=ingest_nodes, reply=True, timeout=5)
    control.close()
    # The API refuses Redis calls until its probe (every 2 s) sees Redis back: recovering means that happens.
    wait_until(lambda: api.get("/readyz").json()["checks"]["redis"] == "ok", 30, "the API to see Redis back")

    jobs = [wait_for_job(api, upload_["job_id"], timeout=600) for upload_ in accepted]
    assert [job["state"] for job in jobs] == ["done", "done"]
    index = VectorIndex(faulty.chroma_url)
    for name, job in zip(names, jobs, strict=True):
        assert sorted(index.chunk_ids(stored("restart"), job["document_id"])) == clean_run_ids(samples / name, job["document_id"])
    listed = api.get("/v1/collections/restart/documents").json()
    assert sorted(d["filename"] for d in listed) == sorted(names)
