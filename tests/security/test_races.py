"""Fifty identical uploads at once make exactly one ingest job: the duplicate check is atomic."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import redis

from ragline.localstack import LocalStack
from ragline.stores.documents import DocumentRegistry
from tests.conftest import upload, wait_for_job
from tests.security.conftest import KEYS

UPLOADERS = 50


def test_fifty_identical_concurrent_uploads_make_one_job(secured: LocalStack, samples: Path) -> None:
    data = (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes() + b"\n%" + uuid.uuid4().hex.encode()
    start = threading.Barrier(UPLOADERS)

    def one_upload(_: int) -> httpx.Response:
        # A client (connection) per thread, so the requests really arrive together.
        with httpx.Client(base_url=secured.api_url, headers={"Authorization": f"Bearer {KEYS['racer']}"}, timeout=120) as client:
            start.wait()
            return upload(client, "race", "same.pdf", data)

    with ThreadPoolExecutor(UPLOADERS) as pool:
        responses = list(pool.map(one_upload, range(UPLOADERS)))
    assert [response.status_code for response in responses if response.status_code not in (200, 202)] == []
    bodies = [response.json() for response in responses]
    assert len({body["job_id"] for body in bodies}) == 1, "the same bytes started more than one job"
    assert [body["duplicate"] for body in bodies].count(False) == 1
    registry = DocumentRegistry(redis.Redis.from_url(secured.redis_url))
    assert registry.usage("racer").documents == 1
    with httpx.Client(base_url=secured.api_url, headers={"Authorization": f"Bearer {KEYS['racer']}"}, timeout=60) as client:
        assert wait_for_job(client, bodies[0]["job_id"])["state"] == "done"
        assert len(client.get("/v1/collections/race/documents").json()) == 1
