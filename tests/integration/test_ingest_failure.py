"""An ingest step that fails with an unexpected exception ends its job `failed` at once, with a stable code
and no internals, instead of leaving it `running` until the stall sweep notices; the traceback is logged.

The failure is a real one: the collection already exists in Chroma (made by another client) with the same
embedding model's name but vectors of another dimension, so the Chroma server refuses the upsert.
"""

from __future__ import annotations

from pathlib import Path

import chromadb
import httpx
import pytest

from ragline.config import Settings
from ragline.localstack import LocalStack
from ragline.stores.vectors import CHROMA_PREFIX
from tests.conftest import stored, upload, wait_for_job, wait_until

pytestmark = pytest.mark.integration

# Far below the stack's stall timeout (RAGLINE_JOB_STALL_SECONDS, 120 s), after which a stuck job is re-sent.
JOB_PATIENCE_SECONDS = 60


def test_an_unexpected_step_failure_fails_the_job_at_once_without_internals(stack: LocalStack, api: httpx.Client, samples: Path) -> None:
    host, port = stack.chroma_url.removeprefix("http://").split(":")
    model = Settings().embedding_model_name
    poisoned = chromadb.HttpClient(host=host, port=int(port)).create_collection(
        CHROMA_PREFIX + stored("poisoned"), metadata={"embedding_model": model}, configuration={"hnsw": {"space": "cosine"}}
    )
    poisoned.add(ids=["elsewhere"], embeddings=[[1.0, 0.0, 0.0]], documents=["three dimensions"])

    accepted = upload(api, "poisoned", "world.pdf", (samples / "world_population_wikipedia.pdf").read_bytes())
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(api, accepted.json()["job_id"], timeout=JOB_PATIENCE_SECONDS)

    assert (job["state"], job["error_code"], job["stage"]) == ("failed", "internal", "index"), job
    assert job["job_id"] in job["error"]
    assert "dimension" not in job["error"].lower() and "Error" not in job["error"], "no internals reach the client"
    # The worker records the failure, then takes the document out of the listing.
    wait_until(lambda: api.get("/v1/collections/poisoned/documents").json() == [], 30, "the failed document to leave the listing")
    assert poisoned.count() == 1, "the other client's vector is untouched"
    log = stack.service("ingest-worker").log_path
    assert log is not None
    # The stack copies each process's output to its log from a thread of its own: give it a moment.
    wait_until(lambda: f"ingest step failed job_id={job['job_id']}" in log.read_text(), 30, "the failure in the worker's log")
    assert "Traceback" in log.read_text()
