"""ArtifactStore against a real Redis: the transit budget of uploads waiting for ingest, and originals
kept in the blob store (read from Redis while an older release's copy is not moved yet)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from ragline.errors import ErrorCode, RaglineError
from ragline.stores import keys
from ragline.stores.artifacts import ArtifactStore
from ragline.stores.blobs import FilesystemBlobStore, file_key
from tests.conftest import wait_until

pytestmark = pytest.mark.integration

BUDGET = 1000


def artifacts(client: redis.Redis, folder: Path, blob_ttl_seconds: int = 600) -> ArtifactStore:
    return ArtifactStore(client, FilesystemBlobStore(folder), blob_ttl_seconds, 600, BUDGET)


def test_uploads_past_the_budget_wait_until_one_is_discarded(spare_redis: redis.Redis, tmp_path: Path) -> None:
    store = artifacts(spare_redis, tmp_path)
    store.put_blob("a", b"x" * 600)
    with pytest.raises(RaglineError) as refused:
        store.put_blob("b", b"y" * 600)
    assert refused.value.code is ErrorCode.UPLOADS_BACKLOGGED
    assert refused.value.retry_after and refused.value.retry_after > 0
    assert spare_redis.get(keys.blob("b")) is None
    store.put_blob("c", b"z" * 400)  # what is left of the budget still fits

    store.discard("a")
    store.put_blob("b", b"y" * 600)
    assert store.get_blob("b") == b"y" * 600


def test_an_upload_that_expired_frees_its_share(spare_redis: redis.Redis, tmp_path: Path) -> None:
    store = artifacts(spare_redis, tmp_path, blob_ttl_seconds=1)
    store.put_blob("a", b"x" * 600)

    def fits() -> bool:
        try:
            store.put_blob("b", b"y" * 600)
        except RaglineError:
            return False
        return True

    wait_until(fits, 10, "the expired upload to leave the budget")
    assert spare_redis.hkeys(keys.transit()) == [b"b"]


def test_a_kept_original_lives_in_the_blob_store_and_leaves_redis(spare_redis: redis.Redis, tmp_path: Path) -> None:
    store = artifacts(spare_redis, tmp_path)
    store.put_blob("job", b"%PDF-1 original")
    store.keep_file("job", "acme__c", "d" * 64)
    store.discard("job")
    assert FilesystemBlobStore(tmp_path).get(file_key("acme__c", "d" * 64)) == b"%PDF-1 original"
    assert spare_redis.keys("*") == []
    assert store.get_file("acme__c", "d" * 64) == b"%PDF-1 original"
    store.delete_file("acme__c", "d" * 64)
    assert store.get_file("acme__c", "d" * 64) is None


def test_an_original_an_older_release_kept_in_redis_is_still_served_and_deleted(spare_redis: redis.Redis, tmp_path: Path) -> None:
    store = artifacts(spare_redis, tmp_path)
    spare_redis.set(keys.document_file("acme__c", "e" * 64), b"%PDF-1 legacy")
    assert store.get_file("acme__c", "e" * 64) == b"%PDF-1 legacy"
    store.delete_file("acme__c", "e" * 64)
    assert store.get_file("acme__c", "e" * 64) is None
    assert not spare_redis.exists(keys.document_file("acme__c", "e" * 64))
