"""kill -9 the ingest worker in the middle of the 467-page book: once a worker runs again the job
finishes, and the collection holds exactly the chunks of a clean run."""

from pathlib import Path

import httpx

from ragline.localstack import LocalStack
from ragline.stores.vectors import VectorIndex
from tests.conftest import stored, upload, wait_for_job
from tests.conftest import wait_until
from tests.faults.conftest import clean_run_ids, kill

BOOK = "art_of_public_speaking_gutenberg.pdf"


def test_job_survives_its_worker_being_killed(faulty: LocalStack, api: httpx.Client, samples: Path) -> None:
    response = upload(api, "book", BOOK, (samples / BOOK).read_bytes())
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    wait_until(lambda: api.get(f"/v1/jobs/{job_id}").json()["progress"]["chunks_done"] > 0, 600, "indexing to start")

    kill(faulty, "ingest-worker")
    interrupted = api.get(f"/v1/jobs/{job_id}").json()
    assert interrupted["state"] == "running"
    assert interrupted["progress"]["chunks_done"] < interrupted["progress"]["chunks_total"]
    faulty.restart("ingest-worker")

    job = wait_for_job(api, job_id, timeout=900)
    assert job["state"] == "done", job
    ids = VectorIndex(faulty.chroma_url).chunk_ids(stored("book"), job["document_id"])
    assert sorted(ids) == clean_run_ids(samples / BOOK, job["document_id"])
    assert job["progress"]["chunks_total"] == len(ids)
    assert [d["state"] for d in api.get("/v1/collections/book/documents").json()] == ["done"]
