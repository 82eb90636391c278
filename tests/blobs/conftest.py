"""A real S3-compatible server (SeaweedFS, see tests/s3server.py) and a whole local stack whose blob store
is a bucket on it (RAGLINE_BLOB_STORE=s3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from ragline.localstack import LocalStack
from tests.conftest import api_client, running_stack
from tests.s3server import SeaweedS3

STACK_BUCKET = "ragline-stack"
STACK_PREFIX = "deploy-1/"
# The federal register PDF (714 KB) fits; it and the NICS table (90 KB) together do not.
TRANSIT_BUDGET = 750_000


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with SeaweedS3(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_stack(s3: SeaweedS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    s3.create_bucket(STACK_BUCKET)
    env = {
        **s3.settings_env(STACK_BUCKET, STACK_PREFIX),
        "RAGLINE_MAX_UPLOAD_BYTES": str(TRANSIT_BUDGET),
        "RAGLINE_MAX_TRANSIT_BYTES": str(TRANSIT_BUDGET),
    }
    with running_stack("blobs-s3", tmp_path_factory.mktemp("blobs-s3"), extra_env=env) as stack:
        yield stack


@pytest.fixture(scope="session")
def api(s3_stack: LocalStack) -> Iterator[httpx.Client]:
    with api_client(s3_stack) as client:
        yield client


@pytest.fixture(scope="session")
def pdf(samples: Path) -> bytes:
    return (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes()


@pytest.fixture(scope="session")
def stack_redis(s3_stack: LocalStack) -> redis.Redis:
    return redis.Redis.from_url(s3_stack.redis_url)


@pytest.fixture
def spare_redis(s3_stack: LocalStack) -> Iterator[redis.Redis]:
    """Database 1 of the stack's Redis: a keyspace of the test's own, emptied after it."""
    client = redis.Redis.from_url(s3_stack.redis_url.removesuffix("/0") + "/1")
    yield client
    client.flushdb()
