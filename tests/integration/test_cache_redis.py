"""A stack whose embedding and answer caches live in a Redis of their own (RAGLINE_CACHE_REDIS_URL), a real
redis-server the test kills: without it the stack answers and ingests, uncached, and never fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from ragline.localstack import LocalStack
from ragline.stores import keys
from ragline.stores.cache_redis import SKIP_SECONDS, CacheRedis
from tests.conftest import api_client, running_stack, upload, wait_for_job, wait_until
from tests.servers import RedisServer

pytestmark = pytest.mark.integration

COLLECTION = "split-cache"
QUESTION = "What is the world population?"


@pytest.fixture(scope="module")
def cache_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("cache-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def split_stack(cache_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {"RAGLINE_CACHE_REDIS_URL": cache_server.url}
    with running_stack("cache-redis", tmp_path_factory.mktemp("cache-stack"), extra_env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def api(split_stack: LocalStack) -> Iterator[httpx.Client]:
    with api_client(split_stack) as client:
        yield client


def ingest(api: httpx.Client, path: Path) -> dict:
    response = upload(api, COLLECTION, path.name, path.read_bytes())
    assert response.status_code == 202, response.text
    return wait_for_job(api, response.json()["job_id"], timeout=600)


def ask(api: httpx.Client, question: str) -> dict:
    response = api.post(f"/v1/collections/{COLLECTION}/query", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def cache_keys(url: str) -> dict[str, int]:
    with redis.Redis.from_url(url) as client:
        return {
            "embeddings": sum(1 for _ in client.scan_iter(match=keys.embedding_cache("*", "*"), count=1000)),
            "answers": sum(1 for _ in client.scan_iter(match=keys.answer_cache("*", 0, "*").replace(":0:", ":*:"), count=1000)),
        }


def test_the_caches_live_in_the_cache_redis_only(api: httpx.Client, split_stack: LocalStack, cache_server: RedisServer, samples: Path) -> None:
    assert ingest(api, samples / "world_population_wikipedia.pdf")["state"] == "done"
    first, again = ask(api, QUESTION), ask(api, QUESTION)
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["answer"] == first["answer"]
    in_cache = cache_keys(cache_server.url)
    assert in_cache["embeddings"] > 0 and in_cache["answers"] == 1
    assert cache_keys(split_stack.redis_url) == {"embeddings": 0, "answers": 0}


def test_without_the_cache_redis_questions_and_ingest_still_work(api: httpx.Client, cache_server: RedisServer, samples: Path) -> None:
    cache_server.kill()
    try:
        uncached = [ask(api, "How many people live in Asia?") for _ in range(2)]
        assert [answer["cached"] for answer in uncached] == [False, False]
        assert uncached[0]["citations"], "answered from the documents, not refused"
        assert ask(api, QUESTION)["cached"] is False, "a cached answer is gone with its Redis, never an error"
        job = ingest(api, samples / "fbi_nics_checks_2015_11_table.pdf")
        assert job["state"] == "done", job
        assert job["progress"]["chunks_embedded"] == job["progress"]["chunks_total"] > 0
    finally:
        cache_server.start()
    # Back after a pause of SKIP_SECONDS: answers are cached again, in the new (empty) cache Redis.
    assert wait_until(lambda: ask(api, QUESTION)["cached"], 10 * SKIP_SECONDS, "the answer cache to be used again")
    assert cache_keys(cache_server.url)["answers"] >= 1


def test_a_failed_call_is_the_default_then_the_cache_is_left_alone(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server, redis.Redis.from_url(server.url, socket_connect_timeout=0.5) as client:
        patient, eager = CacheRedis(client, skip_seconds=3600), CacheRedis(client, skip_seconds=2)
        assert patient.run(lambda client: client.set("k", "v"), None) is True
        assert patient.run(lambda client: client.get("k"), None) == b"v"
        server.kill()
        for cache in (patient, eager):
            assert cache.run(lambda client: client.get("k"), "miss") == "miss"
            assert not cache.available
        server.start()
        assert patient.run(lambda client: client.ping(), "skipped") == "skipped", "left alone for its pause"
        wait_until(lambda: eager.available, 20, "the short pause to end")
        assert eager.run(lambda client: client.ping(), "skipped") is True
