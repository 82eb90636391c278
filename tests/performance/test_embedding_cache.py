"""The embedding cache on a real Redis, and through the service: re-uploads and edited copies."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pymupdf
import pytest
import redis

from ragline.localstack import LocalStack
from ragline.pipeline.extract import read_pages
from ragline.pipeline.split import split_pages
from ragline.stores.cache_redis import CacheRedis
from ragline.stores.embeddings import EmbeddingCache
from ragline.stores.vectors import VectorIndex
from tests.conftest import stored, upload, wait_for_job

WORLD = "world_population_wikipedia.pdf"


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url)


def ingest(api: httpx.Client, collection: str, filename: str, data: bytes) -> dict:
    response = upload(api, collection, filename, data)
    assert response.status_code == 202, response.text
    job = wait_for_job(api, response.json()["job_id"], timeout=600)
    assert job["state"] == "done", job
    return job


def chunk_texts(data: bytes) -> list[str]:
    return [chunk.text for chunk in split_pages(read_pages(data), 1000, 150)]


def test_vectors_round_trip_per_model(client: redis.Redis) -> None:
    cache = EmbeddingCache(CacheRedis(client), ttl_seconds=60)
    vector = np.random.default_rng(1).random(384, dtype=np.float32).tolist()
    cache.put_many("model-a", ["some text"], [vector])
    assert cache.get_many("model-a", ["some text", "other text"]) == [vector, None]
    assert cache.get_many("model-b", ["some text"]) == [None], "another model's vectors are never reused"
    assert 0 < client.ttl(next(client.scan_iter("ragline:emb:model-a:*"))) <= 60


def test_a_zero_ttl_turns_the_cache_off(client: redis.Redis) -> None:
    cache = EmbeddingCache(CacheRedis(client), ttl_seconds=0)
    cache.put_many("model-off", ["text"], [[1.0]])
    assert cache.get_many("model-off", ["text"]) == [None]
    assert not list(client.scan_iter("ragline:emb:model-off:*"))


def test_the_same_document_in_another_collection_embeds_nothing(api: httpx.Client, samples: Path) -> None:
    data = (samples / WORLD).read_bytes()
    first = ingest(api, "cache-first", WORLD, data)["progress"]
    again = ingest(api, "cache-again", WORLD, data)["progress"]
    assert first["chunks_embedded"] == first["chunks_total"] > 0
    assert again["chunks_embedded"] == 0
    assert again["chunks_done"] == again["chunks_total"] == first["chunks_total"]


def test_an_edited_copy_embeds_only_its_changed_chunks(api: httpx.Client, stack: LocalStack, samples: Path) -> None:
    original = (samples / WORLD).read_bytes()
    ingest(api, "cache-edit", WORLD, original)
    document = pymupdf.open(stream=original, filetype="pdf")
    document[2].insert_text((72, 72), "Erratum: this page was edited after the first upload.")
    edited = document.tobytes()
    changed = set(chunk_texts(edited)) - set(chunk_texts(original))
    assert changed, "the edit must change at least one chunk"

    job = ingest(api, "cache-edit", "edited.pdf", edited)
    assert job["progress"]["chunks_embedded"] == len(changed)
    ids = VectorIndex(stack.chroma_url).chunk_ids(stored("cache-edit"), job["document_id"])
    assert len(ids) == job["progress"]["chunks_total"]
