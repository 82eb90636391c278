"""The whole stack with RAGLINE_BLOB_STORE=s3 on a real SeaweedFS: originals live in the bucket, never in
Redis; uploads waiting in Redis stay within their budget; originals an older release left in Redis move
to the bucket at the API's start and with `ragline migrate-files`."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from ragline.localstack import LocalStack
from ragline.stores import keys
from ragline.stores.blobs import file_key
from tests.blobs.conftest import STACK_BUCKET, STACK_PREFIX
from tests.conftest import stored, upload, wait_for_job, wait_until
from tests.s3server import SeaweedS3

pytestmark = pytest.mark.integration


def stored_object(s3: SeaweedS3, collection: str, document_id: str) -> bytes | None:
    client = s3.client()
    try:
        return client.get_object(Bucket=STACK_BUCKET, Key=STACK_PREFIX + file_key(stored(collection), document_id))["Body"].read()
    except client.exceptions.NoSuchKey:
        return None


def ingest(api: httpx.Client, collection: str, filename: str, data: bytes) -> dict:
    response = upload(api, collection, filename, data)
    assert response.status_code == 202, response.text
    job = wait_for_job(api, response.json()["job_id"])
    assert job["state"] == "done", job
    return job


def kill(stack: LocalStack, name: str) -> None:
    process = stack.service(name).process
    assert process is not None and process.poll() is None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def test_upload_index_download_delete_keep_the_original_in_the_bucket(api: httpx.Client, s3: SeaweedS3, stack_redis: redis.Redis, pdf: bytes) -> None:
    job = ingest(api, "flow", "nics.pdf", pdf)
    document_id = job["document_id"]

    assert stored_object(s3, "flow", document_id) == pdf
    assert not stack_redis.exists(keys.document_file(stored("flow"), document_id), keys.blob(job["job_id"]))
    assert not stack_redis.hexists(keys.transit(), job["job_id"])

    download = api.get(f"/v1/collections/flow/documents/{document_id}/file")
    assert download.status_code == 200
    assert download.content == pdf

    assert api.delete(f"/v1/collections/flow/documents/{document_id}").status_code == 204
    assert stored_object(s3, "flow", document_id) is None
    assert api.get(f"/v1/collections/flow/documents/{document_id}/file").status_code == 404


def test_uploads_past_the_transit_budget_are_refused_until_ingest_catches_up(s3_stack: LocalStack, api: httpx.Client, samples: Path, pdf: bytes) -> None:
    kill(s3_stack, "ingest-worker")
    try:
        waiting = upload(api, "budget", "register.pdf", (samples / "federal_register_2020_17221_three_column.pdf").read_bytes())
        assert waiting.status_code == 202, waiting.text

        refused = upload(api, "budget", "nics.pdf", pdf)
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "uploads_backlogged"
        assert int(refused.headers["Retry-After"]) > 0
        listed = api.get("/v1/collections/budget/documents").json()
        assert [document["filename"] for document in listed] == ["register.pdf"]
    finally:
        s3_stack.restart("ingest-worker")

    assert wait_for_job(api, waiting.json()["job_id"])["state"] == "done"
    ingest(api, "budget", "nics.pdf", pdf)


def test_originals_an_older_release_left_in_redis_move_to_the_bucket_at_api_start(
    s3_stack: LocalStack, api: httpx.Client, s3: SeaweedS3, stack_redis: redis.Redis, pdf: bytes
) -> None:
    document_id = ingest(api, "legacy", "nics.pdf", pdf)["document_id"]
    # What a release before the blob store left: the original in Redis, none in the bucket.
    legacy_key = keys.document_file(stored("legacy"), document_id)
    s3.client().delete_object(Bucket=STACK_BUCKET, Key=STACK_PREFIX + file_key(stored("legacy"), document_id))
    stack_redis.set(legacy_key, pdf)
    assert api.get(f"/v1/collections/legacy/documents/{document_id}/file").content == pdf  # served from Redis meanwhile

    kill(s3_stack, "api")
    s3_stack.restart("api")

    wait_until(lambda: not stack_redis.exists(legacy_key), 30, "the API to move the original out of Redis")
    assert stored_object(s3, "legacy", document_id) == pdf
    assert api.get(f"/v1/collections/legacy/documents/{document_id}/file").content == pdf


def test_migrate_files_moves_every_original_once_even_run_twice_at_once(s3_stack: LocalStack, s3: SeaweedS3, stack_redis: redis.Redis) -> None:
    originals = {hashlib.sha256(data).hexdigest(): data for data in (os.urandom(50_000 + n) for n in range(40))}
    for document_id, data in originals.items():
        stack_redis.set(keys.document_file(stored("command"), document_id), data)

    command = [sys.executable, "-m", "ragline.cli", "migrate-files"]
    runs = [subprocess.Popen(command, env=s3_stack.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    assert not list(stack_redis.scan_iter(match=keys.DOCUMENT_FILE_PREFIX + "*"))
    for document_id, data in originals.items():
        assert stored_object(s3, "command", document_id) == data
    moved = [int(output.split("moved ")[1].split(" ")[0]) for output in outputs]
    assert sum(moved) == len(originals), outputs

    again = subprocess.run(command, env=s3_stack.env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("moved 0 files")


def test_a_full_redis_refuses_uploads_with_503_and_keeps_what_it_holds(api: httpx.Client, stack_redis: redis.Redis, samples: Path) -> None:
    listed = api.get("/v1/collections/flow/documents").json()
    # Past maxmemory with noeviction (the chart's policy), every write is refused and nothing is dropped.
    stack_redis.config_set("maxmemory-policy", "noeviction")
    stack_redis.config_set("maxmemory", "1")
    try:
        refused = upload(api, "full", "register.pdf", (samples / "federal_register_2020_17221_three_column.pdf").read_bytes())
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "dependency_unavailable"
        assert refused.json()["detail"] == "Redis is full; retry later"
        assert api.get("/v1/collections/flow/documents").json() == listed  # reads still work
    finally:
        stack_redis.config_set("maxmemory", "0")
    assert api.get("/v1/collections/full/documents").json() == []
