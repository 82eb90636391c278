"""Export a collection from one stack and import it into another (each its own Redis, Chroma server,
workers and API, all real processes): the same questions get the same answers and citations, with no
re-embedding; a foreign, newer, truncated or tampered archive is refused and the target stays as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis

from ragline.config import Settings
from ragline.domain import DocumentRecord
from ragline.errors import ErrorCode, RaglineError
from ragline.localstack import LocalStack
from ragline.stores import keys
from ragline.stores.blobs import FilesystemBlobStore
from ragline.stores.documents import DocumentRegistry, Quota, Usage
from ragline.stores.jobs import Job, JobStore, new_job_id
from ragline.stores.portability import staged_part_key
from ragline.stores.archive import FORMAT_VERSION, HEADER_NAME, MANIFEST_NAME
from ragline.stores.vectors import VectorIndex
from ragline.tasks.messages import ImportJob, TenantQuota
from ragline.tenancy import scope
from tests.archives import archive_members, rebuild_archive
from tests.conftest import api_client, stack_fixture, stored, wait_for_job

pytestmark = pytest.mark.integration

QUESTIONS = (
    "What is the median age of human beings?",
    "How many people lived in Asia?",
    "When did the world population reach 8 billion?",
)

# The second deployment; the first is the integration suite's own `stack`, holding collection `world`.
stack_b = stack_fixture("archives-b")


@pytest.fixture(scope="module")
def api_b(stack_b: LocalStack) -> Iterator[httpx.Client]:
    with api_client(stack_b) as client:
        yield client


@pytest.fixture(scope="module")
def exported(api: httpx.Client, world: dict) -> bytes:
    with api.stream("GET", "/v1/collections/world/export") as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "application/x-tar"
        assert response.headers["x-ragline-chunks"] == str(world["progress"]["chunks_total"])
        return response.read()


def _import(api: httpx.Client, collection: str, archive: bytes) -> httpx.Response:
    return api.post(f"/v1/collections/{collection}/import", files={"file": ("world.ragline.tar", archive, "application/x-tar")})


def _relabelled(archive: bytes, **fields: object) -> bytes:
    """The archive with `fields` changed in its header and manifest, every checksum still right: only
    what the fields say can make an importer refuse it."""
    members = archive_members(archive)
    for name in (HEADER_NAME, MANIFEST_NAME):
        members[name] = json.dumps({**json.loads(members[name]), **fields}).encode()
    return rebuild_archive(members)


def _state(stack: LocalStack, collection: str) -> dict:
    """Everything an import may touch in a deployment, for one collection and its tenant."""
    client = redis.Redis.from_url(stack.redis_url)
    scoped = stored(collection)
    blobs = stack.data_dir / "blobs"
    return {
        "documents": client.hgetall(keys.documents(scoped)),
        "generation": client.get(keys.generation(scoped)),
        "usage": client.hgetall(keys.usage("public")),
        "files in redis": sorted(client.scan_iter(match=keys.document_file(scoped, "*"))),
        "chroma": VectorIndex(stack.chroma_url).embedding_of(scoped),
        # Originals and staged archive parts, wherever in the blob store.
        "blobs": sorted(str(path) for path in blobs.rglob("*") if path.is_file()) if blobs.exists() else [],
    }


def _answers(api: httpx.Client, collection: str, retrieval: str) -> list[tuple[str, list[tuple[str, int, str]]]]:
    answers = []
    for question in QUESTIONS:
        response = api.post(f"/v1/collections/{collection}/query", json={"question": question, "retrieval": retrieval})
        assert response.status_code == 200, response.text
        body = response.json()
        answers.append((body["answer"], [(c["document_id"], c["page"], c["text"]) for c in body["citations"]]))
    return answers


@pytest.fixture(scope="module")
def imported(api_b: httpx.Client, stack_b: LocalStack, exported: bytes) -> dict:
    response = _import(api_b, "moved", exported)
    assert response.status_code == 202, response.text
    job = wait_for_job(api_b, response.json()["job_id"])
    assert job["state"] == "done", job
    return job


def test_imported_collection_answers_as_the_exported_one_without_re_embedding(
    api: httpx.Client, api_b: httpx.Client, stack: LocalStack, stack_b: LocalStack, world: dict, imported: dict
) -> None:
    assert imported["kind"] == "import" and imported["stage"] == "done"
    assert imported["progress"]["chunks_done"] == imported["progress"]["chunks_total"] == world["progress"]["chunks_total"]
    # Nothing was embedded in B: its embedding cache is still empty (and its ingest worker never asked).
    assert not list(redis.Redis.from_url(stack_b.redis_url).scan_iter(match=keys.embedding_cache("*", "*")))

    records = [{k: d[k] for k in ("document_id", "filename", "pages", "chunks", "state")} for d in api.get("/v1/collections/world/documents").json()]
    assert [{k: d[k] for k in records[0]} for d in api_b.get("/v1/collections/moved/documents").json()] == records
    document_id = records[0]["document_id"]
    original = api.get(f"/v1/collections/world/documents/{document_id}/file").content
    assert api_b.get(f"/v1/collections/moved/documents/{document_id}/file").content == original

    # The chunks are the same ids, texts, metadata and vectors. The archive holds the vectors exactly
    # as Chroma returned them, but Chroma renormalizes cosine-space vectors it has indexed: each side
    # may read back one float32 rounding step (~1e-8) from what it was given.
    source, target = VectorIndex(stack.chroma_url), VectorIndex(stack_b.chroma_url)
    ids = source.chunk_ids(stored("world"), document_id)
    assert sorted(target.chunk_ids(stored("moved"), document_id)) == sorted(ids)
    a, b = source.read_chunks(stored("world"), ids), target.read_chunks(stored("moved"), ids)
    assert (a.ids, a.texts, a.metadatas) == (b.ids, b.texts, b.metadatas)
    assert a.vectors.shape == b.vectors.shape and np.abs(a.vectors - b.vectors).max() < 1e-6

    for retrieval in ("hybrid", "vector"):
        assert _answers(api_b, "moved", retrieval) == _answers(api, "world", retrieval)


def test_an_archive_of_another_embedding_model_is_refused_and_changes_nothing(
    api_b: httpx.Client, stack_b: LocalStack, exported: bytes
) -> None:
    before = _state(stack_b, "other-model")
    response = _import(api_b, "other-model", _relabelled(exported, embedding_model="openai:text-embedding-3-small"))
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "embedding_model_mismatch"
    assert "openai:text-embedding-3-small" in problem["detail"] and "local:all-MiniLM-L6-v2" in problem["detail"]
    assert _state(stack_b, "other-model") == before


def test_an_archive_of_another_dimension_is_refused(api_b: httpx.Client, stack_b: LocalStack, exported: bytes) -> None:
    before = _state(stack_b, "other-dimension")
    response = _import(api_b, "other-dimension", _relabelled(exported, embedding_dimension=768))
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "embedding_model_mismatch"
    assert "768 dimensions" in response.json()["detail"] and "384 dimensions" in response.json()["detail"]
    assert _state(stack_b, "other-dimension") == before


def test_an_archive_of_a_newer_format_is_refused_and_changes_nothing(api_b: httpx.Client, stack_b: LocalStack, exported: bytes) -> None:
    before = _state(stack_b, "newer")
    response = _import(api_b, "newer", _relabelled(exported, format_version=FORMAT_VERSION + 1))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "unsupported_archive_version"
    assert "upgrade ragline" in response.json()["detail"]
    assert _state(stack_b, "newer") == before


@pytest.mark.parametrize("damage", ["truncated", "tampered"])
def test_a_damaged_archive_fails_its_job_and_changes_nothing(api_b: httpx.Client, stack_b: LocalStack, exported: bytes, damage: str) -> None:
    if damage == "truncated":
        archive = exported[: len(exported) * 2 // 3]
    else:
        members = archive_members(exported)
        name = next(name for name in members if name.endswith("chunks-0000.jsonl"))
        # Same length, one word changed: only the checksum can tell.
        members[name] = members[name].replace(b"population", b"Population", 1)
        archive = rebuild_archive(members, refresh_manifest=False)
    collection = f"damaged-{damage}"
    before = _state(stack_b, collection)
    response = _import(api_b, collection, archive)
    assert response.status_code == 202, response.text
    job = wait_for_job(api_b, response.json()["job_id"])
    assert job["state"] == "failed", job
    assert job["error_code"] == "invalid_archive", job
    assert ("truncated" if damage == "truncated" else "checksum") in job["error"]
    assert _state(stack_b, collection) == before
    assert api_b.get(f"/v1/collections/{collection}/documents").json() == []


def test_a_collection_that_holds_documents_is_not_imported_into(api_b: httpx.Client, stack_b: LocalStack, exported: bytes, imported: dict) -> None:
    before = _state(stack_b, "moved")
    response = _import(api_b, "moved", exported)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "collection_not_empty"
    assert _state(stack_b, "moved") == before


def test_the_claim_of_an_import_is_all_or_nothing(stack_b: LocalStack) -> None:
    """Against B's Redis: records, usage and the collection's emptiness move together or not at all."""
    registry = DocumentRegistry(redis.Redis.from_url(stack_b.redis_url))
    collection, usage = scope("claims", "target"), lambda: registry.usage("claims")
    records = [DocumentRecord(f"{n:064x}", f"{n}.pdf", "job-1", state="running", pages=10, chunks=5, size_bytes=1000) for n in (1, 2)]

    with pytest.raises(RaglineError) as refused:
        registry.claim_all(collection, records, Quota(pages=19), "job-1")
    assert refused.value.code is ErrorCode.QUOTA_EXCEEDED and "20 pages" in refused.value.detail
    assert registry.count(collection) == 0 and usage() == Usage()

    registry.claim_all(collection, records, Quota(pages=20), "job-1")
    assert registry.count(collection) == 2 and usage() == Usage(documents=2, pages=20, size_bytes=2000)
    # The same job again (a re-sent import) finds its own claim and charges nothing twice.
    registry.claim_all(collection, records, Quota(pages=20), "job-1")
    assert usage() == Usage(documents=2, pages=20, size_bytes=2000)

    with pytest.raises(RaglineError) as occupied:
        registry.claim_all(collection, [DocumentRecord("f" * 64, "x.pdf", "job-2", pages=1)], Quota(), "job-2")
    assert occupied.value.code is ErrorCode.COLLECTION_NOT_EMPTY
    assert registry.count(collection) == 2 and usage() == Usage(documents=2, pages=20, size_bytes=2000)


def test_a_lost_import_is_sent_again_by_the_recovery_sweep(api_b: httpx.Client, stack_b: LocalStack, exported: bytes) -> None:
    """An import whose worker vanished mid-way (its archive staged, its job running, silent for long):
    the ingest workers' sweep sends the import again, not an ingest chain, and it completes."""
    long_ago = time.time() - 3600
    job_id = new_job_id()
    # The message the API sent, as the job records it for the sweep.
    sent = ImportJob(job_id=job_id, embedding_model=Settings().embedding_model_name, quota=TenantQuota(documents=0, pages=0, size_bytes=0))
    job = Job(
        job_id=job_id, document_id="", collection=stored("recovered"), filename="world.ragline.tar", kind="import",
        state="running", stage="write", worker="ingest@gone#0", created_at=long_ago, updated_at=long_ago,
        request=sent.model_dump_json(),
    )
    FilesystemBlobStore(stack_b.data_dir / "blobs").put(staged_part_key(job.job_id, 0), exported)
    JobStore(redis.Redis.from_url(stack_b.redis_url), ttl_seconds=3600).create(job)
    finished = wait_for_job(api_b, job.job_id)
    assert finished["state"] == "done", finished
    assert [d["state"] for d in api_b.get("/v1/collections/recovered/documents").json()] == ["done"]


def test_export_of_a_collection_without_documents_is_404(api: httpx.Client) -> None:
    response = api.get("/v1/collections/nothing-here/export")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def _ragline(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "RAGLINE_API_URL": stack.api_url}
    return subprocess.run([sys.executable, "-m", "ragline.cli", *args], capture_output=True, text=True, timeout=600, env=env)


def test_cli_exports_and_imports(stack: LocalStack, stack_b: LocalStack, world: dict, tmp_path: Path) -> None:
    archive = tmp_path / "world.ragline.tar"
    exported = _ragline(stack, "export", "-c", "world", "-o", str(archive), "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["bytes"] == archive.stat().st_size > 0
    assert not archive.with_name(archive.name + ".part").exists()

    imported = _ragline(stack_b, "import", str(archive), "-c", "moved-by-cli")
    assert imported.returncode == 0, imported.stderr
    assert f"imported 1 document ({world['progress']['chunks_total']} chunks, local:all-MiniLM-L6-v2)" in imported.stdout

    again = _ragline(stack_b, "import", str(archive), "-c", "moved-by-cli")
    assert again.returncode == 3
    assert "collection_not_empty" in again.stderr

    missing = _ragline(stack, "export", "-c", "nothing-here", "-o", str(tmp_path / "none.tar"))
    assert missing.returncode == 3 and "not_found" in missing.stderr
    assert not list(tmp_path.glob("none.tar*"))
