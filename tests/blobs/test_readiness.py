"""/readyz checks the blob store: a wrong bucket or an unusable folder shows at start, not at the first ingest.

The API runs in-process (its lifespan starts the real probe) against a real Redis, a real Chroma and the
real SeaweedFS S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.api.app import create_app
from ragline.config import Settings
from tests.conftest import wait_until
from tests.s3server import SeaweedS3
from tests.servers import ChromaServer, RedisServer

pytestmark = pytest.mark.integration

BUCKET = "ragline-ready"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, ChromaServer]]:
    with RedisServer(tmp_path_factory.mktemp("ready-redis")) as redis_server, ChromaServer(tmp_path_factory.mktemp("ready-chroma")) as chroma:
        yield redis_server, chroma


def readiness(settings: Settings) -> tuple[int, dict]:
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
        return response.status_code, response.json()


def settings_for(servers: tuple[RedisServer, ChromaServer], tmp_path: Path, **overrides: object) -> Settings:
    redis_server, chroma = servers
    return Settings(redis_url=redis_server.url, chroma_url=chroma.url, data_dir=tmp_path, **overrides)


def test_a_reachable_bucket_is_ready(servers: tuple[RedisServer, ChromaServer], s3: SeaweedS3, tmp_path: Path) -> None:
    s3.create_bucket(BUCKET)
    status, body = readiness(settings_for(servers, tmp_path, **s3_settings(s3, BUCKET)))
    assert (status, body) == (200, {"status": "ready", "checks": {"redis": "ok", "chroma": "ok", "blobs": "ok"}})


def test_a_wrong_bucket_is_not_ready_and_named(servers: tuple[RedisServer, ChromaServer], s3: SeaweedS3, tmp_path: Path) -> None:
    status, body = readiness(settings_for(servers, tmp_path, **s3_settings(s3, "no-such-bucket")))
    assert status == 503
    assert body["code"] == "dependency_unavailable"
    assert body["checks"]["redis"] == body["checks"]["chroma"] == "ok"
    assert body["checks"]["blobs"].startswith("refused: bucket 'no-such-bucket'")
    assert body["detail"].startswith("blobs refused")


def test_wrong_keys_are_not_ready(servers: tuple[RedisServer, ChromaServer], s3: SeaweedS3, tmp_path: Path) -> None:
    s3.create_bucket(BUCKET)
    wrong = {**s3_settings(s3, BUCKET), "s3_secret_access_key": "not-the-secret-0123456789"}
    status, body = readiness(settings_for(servers, tmp_path, **wrong))
    assert status == 503
    assert body["checks"]["blobs"].startswith("refused: bucket 'ragline-ready': 403")


def test_a_folder_that_cannot_be_made_is_not_ready(servers: tuple[RedisServer, ChromaServer], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    status, body = readiness(settings_for(servers, tmp_path, blob_dir=tmp_path / "a-file" / "blobs"))
    assert status == 503
    assert body["checks"]["blobs"].startswith(f"not writable: {tmp_path / 'a-file' / 'blobs'}")
    assert "blobs" in body["detail"]


def test_a_missing_folder_is_created_and_ready(servers: tuple[RedisServer, ChromaServer], tmp_path: Path) -> None:
    status, body = readiness(settings_for(servers, tmp_path, blob_dir=tmp_path / "new" / "blobs"))
    assert (status, body["checks"]["blobs"]) == (200, "ok")
    assert (tmp_path / "new" / "blobs").is_dir()
    assert not list((tmp_path / "new" / "blobs").iterdir()), "the probe leaves no file behind"


def test_a_bucket_removed_while_running_turns_readiness_off(servers: tuple[RedisServer, ChromaServer], s3: SeaweedS3, tmp_path: Path) -> None:
    s3.create_bucket("ragline-gone")
    with TestClient(create_app(settings_for(servers, tmp_path, **s3_settings(s3, "ragline-gone")))) as client:
        assert client.get("/readyz").status_code == 200
        s3.client().delete_bucket(Bucket="ragline-gone")
        response = wait_until(lambda: (r := client.get("/readyz")).status_code == 503 and r, 15, "/readyz to see the bucket gone")
        assert response.json()["checks"]["blobs"].startswith("refused")


def s3_settings(s3: SeaweedS3, bucket: str) -> dict:
    options = s3.client_options()
    return {
        "blob_store": "s3",
        "s3_endpoint_url": s3.endpoint_url,
        "s3_bucket": bucket,
        "s3_addressing_style": "path",
        "s3_region": options["region_name"],
        "s3_access_key_id": options["aws_access_key_id"],
        "s3_secret_access_key": options["aws_secret_access_key"],
    }
