"""Rate limits, backpressure on full queues, refusing questions when no query worker would answer, and
queueing uploads and demo tasks while their workers are away (KEDA at zero, a restart)."""

import os
import signal
import time
from pathlib import Path

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import redis

from ragline.config import Settings
from ragline.localstack import LocalStack
from ragline.stores.workers import WorkerRegistry
from ragline.tasks.celery_app import make_celery
from tests.conftest import upload, wait_for_job, wait_until
from tests.security.conftest import MAX_QUEUE, RATE_LIMIT


def test_a_key_over_its_budget_gets_429_with_retry_after(hammer: httpx.Client, acme: httpx.Client) -> None:
    statuses = [hammer.get("/v1/collections/anything/documents").status_code for _ in range(RATE_LIMIT + 1)]
    assert statuses[:RATE_LIMIT - 5].count(200) >= RATE_LIMIT - 10
    refused = hammer.get("/v1/collections/anything/documents")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert acme.get("/v1/collections/anything/documents").status_code == 200, "budgets are per key"


def test_uploads_are_refused_while_the_ingest_queue_is_full(secured: LocalStack, globex: httpx.Client, samples: Path) -> None:
    control = make_celery("test-control", Settings(redis_url=secured.redis_url))
    ingest_nodes = [node for reply in control.control.ping(timeout=2) for node in reply if node.startswith("ingest@")]
    assert ingest_nodes
    # Only the ingest worker: another worker told to consume `ingest` would discard its tasks as unknown.
    control.control.cancel_consumer("ingest", destination=ingest_nodes, reply=True, timeout=5)
    try:
        data = (samples / "world_population_wikipedia.pdf").read_bytes()
        accepted = [upload(globex, "queued", f"copy{n}.pdf", data + b"\n%" + str(n).encode()) for n in range(MAX_QUEUE)]
        assert [response.status_code for response in accepted] == [202] * MAX_QUEUE
        refused = upload(globex, "queued", "one-too-many.pdf", data + b"\n%late")
        assert refused.status_code == 503
        assert refused.json()["code"] == "queue_full"
        assert int(refused.headers["retry-after"]) > 0
    finally:
        control.control.add_consumer("ingest", destination=ingest_nodes, reply=True, timeout=5)
        control.close()
    for response in accepted:
        assert wait_for_job(globex, response.json()["job_id"])["state"] == "done"


def test_a_query_with_no_query_worker_is_refused_at_once_and_recovers(secured: LocalStack, acme: httpx.Client, samples: Path) -> None:
    job = wait_for_job(acme, upload(acme, "recovery", "nics.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes()).json()["job_id"])
    assert job["state"] == "done"
    worker = secured.service("query-worker").process
    assert worker is not None
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    try:
        time.sleep(6)  # the heartbeat TTL of this stack is 5 s
        refused = acme.post("/v1/collections/recovery/query", json={"question": "Texas handgun checks?"})
        assert refused.status_code == 503
        assert refused.json()["code"] == "no_worker"
        assert "query worker" in refused.json()["detail"]
    finally:
        secured.restart("query-worker")
    answered = acme.post("/v1/collections/recovery/query", json={"question": "Texas handgun checks?"})
    assert answered.status_code == 200, answered.text


@contextmanager
def worker_gone(stack: LocalStack, queue: str) -> Iterator[None]:
    """Freeze a worker (SIGSTOP: no heartbeat, nothing consumed, and no exit a supervisor would restart)
    until its heartbeat has expired, as if KEDA had scaled its kind to zero; thaw it on the way out."""
    worker = stack.service(f"{queue}-worker").process
    assert worker is not None
    registry = WorkerRegistry(redis.Redis.from_url(stack.redis_url))
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: not registry.alive(queue, 5), 30, f"the {queue} worker's heartbeat to expire")
        yield
    finally:
        os.killpg(worker.pid, signal.SIGCONT)


def test_uploads_queue_while_no_ingest_worker_is_alive_and_finish_when_one_is(
    secured: LocalStack, acme: httpx.Client, samples: Path
) -> None:
    with worker_gone(secured, "ingest"):
        accepted = upload(acme, "scale-from-zero", "nics.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes())
        assert accepted.status_code == 202, accepted.text
        job = acme.get(f"/v1/jobs/{accepted.json()['job_id']}").json()
        assert job["state"] == "queued"
        assert job["waiting_for_worker"] is True
    finished = wait_for_job(acme, job["job_id"])
    assert finished["state"] == "done"
    assert finished["waiting_for_worker"] is False


def test_demo_tasks_queue_while_no_default_worker_is_alive(secured: LocalStack, acme: httpx.Client) -> None:
    with worker_gone(secured, "default"):
        submitted = acme.post("/add/20/22")
        assert submitted.status_code == 200, submitted.text
        task_id = submitted.json()["task_id"]
        assert acme.get(f"/task-status/{task_id}").json()["status"] == "PENDING"
    wait_until(lambda: acme.get(f"/task-status/{task_id}").json()["status"] == "COMPLETED", 60, "the queued add task")
    assert acme.get(f"/task-status/{task_id}").json()["result"] == 42
