"""Both blob store backends keep the same contract: the filesystem in a temporary folder, S3 in buckets of
a real SeaweedFS server (tests/s3server.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ragline.config import Settings
from ragline.errors import ErrorCode, RaglineError
from ragline.localstack import free_port
from ragline.stores.blobs import BlobStore, FilesystemBlobStore, S3BlobStore, create_blob_store, file_key
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, SeaweedS3

pytestmark = pytest.mark.integration


def s3_settings(s3: SeaweedS3, bucket: str, prefix: str = "", **overrides: object) -> Settings:
    options = {
        "blob_store": "s3",
        "s3_endpoint_url": s3.endpoint_url,
        "s3_bucket": bucket,
        "s3_prefix": prefix,
        "s3_region": REGION,
        "s3_addressing_style": "path",
        "s3_access_key_id": SecretStr(ACCESS_KEY),
        "s3_secret_access_key": SecretStr(SECRET_KEY),
        **overrides,
    }
    return Settings(**options)


@pytest.fixture(scope="module")
def bucket(s3: SeaweedS3) -> str:
    s3.create_bucket("contract")
    return "contract"


@pytest.fixture
def prefix() -> str:
    """Each test's keys under a prefix of their own, in the one bucket (SeaweedFS gives each bucket volumes)."""
    return f"t-{uuid.uuid4().hex[:12]}/"


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, prefix: str) -> Iterator[BlobStore]:
    if request.param == "filesystem":
        yield create_blob_store(Settings(blob_dir=tmp_path / "blobs"))
    else:
        s3: SeaweedS3 = request.getfixturevalue("s3")
        yield create_blob_store(s3_settings(s3, request.getfixturevalue("bucket"), prefix))


def test_settings_pick_the_backend(tmp_path: Path, s3: SeaweedS3, bucket: str) -> None:
    assert isinstance(create_blob_store(Settings(data_dir=tmp_path)), FilesystemBlobStore)
    assert isinstance(create_blob_store(s3_settings(s3, bucket)), S3BlobStore)


def test_put_get_overwrite_delete(store: BlobStore) -> None:
    key = file_key("acme__reports", "a" * 64)
    assert store.get(key) is None
    store.put(key, b"%PDF-1 first")
    assert store.get(key) == b"%PDF-1 first"
    store.put(key, b"%PDF-1 second, longer than the first")
    assert store.get(key) == b"%PDF-1 second, longer than the first"
    store.delete(key)
    assert store.get(key) is None
    store.delete(key)  # a missing key is no error


def test_large_and_binary_blobs_round_trip(store: BlobStore) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB, every byte value
    store.put("files/c/big", data)
    assert store.get("files/c/big") == data


def test_keys_lists_by_prefix(store: BlobStore) -> None:
    for key in ("files/a/1", "files/a/2", "files/b/1", "segments/a/0"):
        store.put(key, key.encode())
    assert sorted(store.keys("files/a/")) == ["files/a/1", "files/a/2"]
    assert sorted(store.keys("files/")) == ["files/a/1", "files/a/2", "files/b/1"]
    assert list(store.keys("nothing/")) == []


@pytest.mark.parametrize("key", ["", "/abs", "files/../etc", "files//x", "files/./x", "files/x/"])
def test_keys_that_could_leave_the_namespace_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, b"x")
    with pytest.raises(ValueError):
        store.get(key)


def test_prefixes_share_a_bucket_without_seeing_each_other(s3: SeaweedS3, bucket: str, prefix: str) -> None:
    first = create_blob_store(s3_settings(s3, bucket, prefix=prefix + "one/"))
    second = create_blob_store(s3_settings(s3, bucket, prefix=prefix + "two/"))
    first.put("files/c/d", b"first")
    second.put("files/c/d", b"second")
    assert (first.get("files/c/d"), second.get("files/c/d")) == (b"first", b"second")
    assert list(first.keys("files/")) == ["files/c/d"]
    objects = s3.client().list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert sorted(item["Key"] for item in objects) == [prefix + "one/files/c/d", prefix + "two/files/c/d"]


def test_a_wrong_secret_is_a_dependency_error_without_the_secret(s3: SeaweedS3, bucket: str) -> None:
    store = create_blob_store(s3_settings(s3, bucket, s3_secret_access_key=SecretStr("not-the-secret")))
    with pytest.raises(RaglineError) as refused:
        store.get("files/c/d")
    assert refused.value.code is ErrorCode.DEPENDENCY_UNAVAILABLE
    assert "SignatureDoesNotMatch" in refused.value.detail
    assert "not-the-secret" not in refused.value.detail


def test_a_missing_bucket_is_a_dependency_error(s3: SeaweedS3) -> None:
    store = create_blob_store(s3_settings(s3, "no-such-bucket"))
    with pytest.raises(RaglineError) as refused:
        store.put("files/c/d", b"x")
    assert refused.value.code is ErrorCode.DEPENDENCY_UNAVAILABLE
    assert "NoSuchBucket" in refused.value.detail


def test_an_unreachable_store_is_a_dependency_error() -> None:
    settings = Settings(
        blob_store="s3", s3_endpoint_url=f"http://127.0.0.1:{free_port()}", s3_bucket="b", s3_region=REGION,
        s3_access_key_id=SecretStr("k"), s3_secret_access_key=SecretStr("s"),
    )
    with pytest.raises(RaglineError) as refused:
        create_blob_store(settings).get("files/c/d")
    assert refused.value.code is ErrorCode.DEPENDENCY_UNAVAILABLE
    assert refused.value.detail == "the blob store is unreachable"


def test_settings_refuse_an_incomplete_s3_store() -> None:
    with pytest.raises(ValidationError, match="RAGLINE_S3_BUCKET"):
        Settings(blob_store="s3")
    with pytest.raises(ValidationError, match="RAGLINE_S3_SECRET_ACCESS_KEY"):
        Settings(blob_store="s3", s3_bucket="b", s3_access_key_id=SecretStr("k"))
    with pytest.raises(ValidationError, match="RAGLINE_MAX_TRANSIT_BYTES"):
        Settings(max_upload_bytes=10_000, max_transit_bytes=5_000)
