"""The BM25 index follows ingests and deletes one segment at a time, survives a query worker's restart,
fits its memory budget, and /v1/models reads each tenant's collections set instead of scanning Redis.

Real Redis, Chroma, Celery workers and API (the integration stack); "another query pod" is a
LexicalIndexes in this process over the same Redis and blob folder.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis

from ragline.config import Settings
from ragline.domain import LexicalEntry
from ragline.pipeline.lexical import LexicalSegment
from ragline.localstack import LocalStack
from ragline.stores import keys
from ragline.stores.blobs import FilesystemBlobStore
from ragline.stores.lexical import LexicalStore
from ragline.tenancy import DEFAULT_TENANT
from ragline.worker.lexical import LexicalIndexes, put_segment
from tests.conftest import scrape, stored, upload, value, wait_for_job, wait_until
from tests.faults.conftest import kill

pytestmark = pytest.mark.integration

COLLECTION = "lexical"
NICS = "fbi_nics_checks_2015_11_table.pdf"
REGISTER = "federal_register_2020_17221_three_column.pdf"
# "73 airplanes of U.S. registry" is on the register's page 5: BM25 ranks it first, the embedding alone does not.
AIRPLANES = "How many airplanes of U.S. registry does the proposed AD affect?"


def _ingest(api: httpx.Client, collection: str, path: Path) -> dict:
    response = upload(api, collection, path.name, path.read_bytes())
    assert response.status_code in (200, 202), response.text
    job = wait_for_job(api, response.json()["job_id"])
    assert job["state"] == "done", job
    return job


def _top(api: httpx.Client, retrieval: str, top_k: int = 1) -> list[tuple[str, int]]:
    body = {"question": AIRPLANES, "top_k": top_k, "retrieval": retrieval}
    response = api.post(f"/v1/collections/{COLLECTION}/query", json=body)
    assert response.status_code == 200, response.text
    return [(citation["filename"], citation["page"]) for citation in response.json()["citations"]]


def _segments_loaded(stack: LocalStack) -> float:
    return value(scrape(stack.metrics_urls()["query-worker"]), "ragline_lexical_segments_loaded_total")


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url)


@pytest.fixture(scope="module")
def store(stack: LocalStack, client: redis.Redis) -> LexicalStore:
    """The stack's own segments: its Redis and its blob folder."""
    return LexicalStore(client, FilesystemBlobStore(Settings(data_dir=stack.data_dir).blob_path))


@pytest.fixture(scope="module")
def documents(api: httpx.Client, samples: Path) -> dict[str, str]:
    """Two documents in COLLECTION, the register last, with the query worker's index taken in between."""
    nics = _ingest(api, COLLECTION, samples / NICS)
    _top(api, "hybrid")
    return {NICS: nics["document_id"], REGISTER: ""}


def test_a_new_document_matches_on_the_next_question_from_its_segment_alone(
    api: httpx.Client, stack: LocalStack, samples: Path, documents: dict[str, str]
) -> None:
    loaded = _segments_loaded(stack)
    documents[REGISTER] = _ingest(api, COLLECTION, samples / REGISTER)["document_id"]
    assert _top(api, "vector") != [(REGISTER, 5)]
    assert _top(api, "hybrid") == [(REGISTER, 5)]
    # The worker read the new document's segment, and nothing else: no rebuild of the collection.
    assert _segments_loaded(stack) == loaded + 1


def test_the_index_outlives_the_query_worker(api: httpx.Client, stack: LocalStack, documents: dict[str, str]) -> None:
    kill(stack, "query-worker")
    stack.restart("query-worker")
    # Another top_k: the answer cache holds the top_k=1 answer.
    assert (REGISTER, 5) in _top(api, "hybrid", top_k=2)
    # A fresh process: it loaded the collection's two segments from the blob store.
    assert _segments_loaded(stack) == 2


def test_a_deleted_document_stops_matching_in_every_process(
    api: httpx.Client, stack: LocalStack, store: LexicalStore, documents: dict[str, str]
) -> None:
    other_pod = LexicalIndexes(store, budget_bytes=1 << 30)
    register = documents[REGISTER]
    assert any(hit.startswith(register) for hit in other_pod.get(stored(COLLECTION)).search(AIRPLANES, 20))

    assert api.delete(f"/v1/collections/{COLLECTION}/documents/{register}").status_code == 204
    assert not any(hit.startswith(register) for hit in other_pod.get(stored(COLLECTION)).search(AIRPLANES, 20))
    assert set(store.manifest(stored(COLLECTION))) == {documents[NICS]}
    response = api.post(f"/v1/collections/{COLLECTION}/query", json={"question": AIRPLANES, "retrieval": "hybrid"})
    assert response.status_code == 200 and {c["document_id"] for c in response.json()["citations"]} <= {documents[NICS]}


def test_a_document_indexed_before_segments_existed_gets_one_when_the_ingest_worker_starts(
    stack: LocalStack, client: redis.Redis, store: LexicalStore, documents: dict[str, str]
) -> None:
    nics = documents[NICS]
    store.remove(stored(COLLECTION), nics)
    client.delete(keys.lexical_backfilled())
    kill(stack, "ingest-worker")
    stack.restart("ingest-worker")
    wait_until(lambda: client.exists(keys.lexical_backfilled()), 60, "the lexical backfill")
    assert nics in store.manifest(stored(COLLECTION))
    segment = store.load(stored(COLLECTION), nics, store.manifest(stored(COLLECTION))[nics])
    assert segment is not None and len(LexicalSegment.from_bytes(segment)) > 0


def _scans(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0))


def test_models_come_from_the_tenant_set_without_a_scan(
    api: httpx.Client, client: redis.Redis, samples: Path, documents: dict[str, str]
) -> None:
    solo = _ingest(api, "lexical-solo", samples / NICS)
    scans = _scans(client)
    listed = [model["id"] for model in api.get("/v1/models").json()["data"]]
    assert {COLLECTION, "lexical-solo"} <= set(listed)
    assert api.delete(f"/v1/collections/lexical-solo/documents/{solo['document_id']}").status_code == 204
    assert "lexical-solo" not in [model["id"] for model in api.get("/v1/models").json()["data"]]
    assert _scans(client) == scans


def test_collections_recorded_before_the_sets_are_listed_after_the_api_starts(
    api: httpx.Client, stack: LocalStack, client: redis.Redis, documents: dict[str, str]
) -> None:
    client.srem(keys.collections(DEFAULT_TENANT), stored(COLLECTION))
    client.delete(keys.collections_indexed())
    assert COLLECTION not in [model["id"] for model in api.get("/v1/models").json()["data"]]
    kill(stack, "api")
    stack.restart("api")
    listed = lambda: COLLECTION in [model["id"] for model in api.get("/v1/models").json()["data"]]  # noqa: E731
    wait_until(listed, 30, "the collections sets to be filled")
    assert client.exists(keys.collections_indexed())


def _entries(prefix: str, count: int) -> list[LexicalEntry]:
    return [LexicalEntry(f"{prefix}:{n}:0", prefix, n, f"{prefix} chunk {n} about ailerons and rudder trim {n * 7}") for n in range(count)]


def test_indexes_of_other_collections_make_room_least_recently_used_first(client: redis.Redis, tmp_path: Path) -> None:
    store = LexicalStore(client, FilesystemBlobStore(tmp_path))
    names = [f"lexical-lru-{n}" for n in range(3)]
    for name in names:
        put_segment(store, name, "doc", "v1", _entries("doc", 300))
    one = LexicalIndexes(store, budget_bytes=1 << 30)
    size = one.get(names[0]).nbytes

    indexes = LexicalIndexes(store, budget_bytes=int(size * 2.5))
    for name in names:
        assert indexes.get(name).search("rudder", 1)
    assert indexes.collections() == names[1:] and indexes.nbytes <= size * 2.5
    indexes.get(names[1])
    indexes.get(names[0])
    assert indexes.collections() == [names[1], names[0]]

    # One collection over the budget is still held while it is the one asked.
    tight = LexicalIndexes(store, budget_bytes=1)
    assert tight.get(names[2]).search("ailerons", 1) and tight.collections() == [names[2]]
    tight.get(names[0])
    assert tight.collections() == [names[0]]
