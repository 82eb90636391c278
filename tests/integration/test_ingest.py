import json
from pathlib import Path

import httpx

from ragline.stores.vectors import VectorIndex
from tests.conftest import stored, upload, wait_for_job


def test_upload_is_ingested_with_progress_and_timings(api: httpx.Client, world: dict) -> None:
    assert world["stage"] == "done"
    progress = world["progress"]
    assert progress["pages_done"] == progress["pages_total"] == 24
    assert progress["chunks_done"] == progress["chunks_total"] > 24
    assert {"extract", "split", "index", "total"} <= set(world["timings"])
    assert world["error"] is None

    listed = api.get("/v1/collections/world/documents").json()
    assert listed == [
        {
            "document_id": world["document_id"],
            "filename": "world_population_wikipedia.pdf",
            "pages": 24,
            "chunks": progress["chunks_total"],
            "state": "done",
            "job_id": world["job_id"],
            "format": "pdf",
        }
    ]


def test_chunks_carry_deterministic_ids_and_page_metadata(index: VectorIndex, world: dict) -> None:
    ids = index.chunk_ids(stored("world"), world["document_id"])
    assert len(ids) == world["progress"]["chunks_total"] == len(set(ids))
    pages = {int(chunk_id.split(":")[1]) for chunk_id in ids}
    assert all(chunk_id.startswith(world["document_id"] + ":") for chunk_id in ids)
    assert pages <= set(range(1, 25)) and 1 in pages and 24 in pages


def test_same_bytes_again_returns_the_existing_document(api: httpx.Client, index: VectorIndex, world: dict, samples: Path) -> None:
    before = sorted(index.chunk_ids(stored("world"), world["document_id"]))
    again = upload(api, "world", "renamed-copy.pdf", (samples / "world_population_wikipedia.pdf").read_bytes())
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["document_id"] == world["document_id"]
    assert sorted(index.chunk_ids(stored("world"), world["document_id"])) == before
    assert len(api.get("/v1/collections/world/documents").json()) == 1


def test_progress_is_reported_while_the_job_runs(api: httpx.Client, samples: Path) -> None:
    response = upload(api, "novels", "pride_and_prejudice.pdf", (samples / "pride_and_prejudice.pdf").read_bytes())
    assert response.status_code == 202
    job_id = response.json()["job_id"]

    events = []
    with api.stream("GET", f"/v1/jobs/{job_id}/events", timeout=300) as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((event, json.loads(line.removeprefix("data: "))))
    assert events[-1][0] == "done"
    chunk_counts = [data["progress"]["chunks_done"] for _, data in events]
    assert chunk_counts == sorted(chunk_counts)
    totals = events[-1][1]["progress"]["chunks_total"]
    assert any(0 < done < totals for done in chunk_counts), "no partial progress was ever reported"
    assert any(data["state"] == "running" for _, data in events)


def test_indexed_document_file_can_be_downloaded(api: httpx.Client, world: dict, samples: Path) -> None:
    response = api.get(f"/v1/collections/world/documents/{world['document_id']}/file")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == (samples / "world_population_wikipedia.pdf").read_bytes()
    assert api.get(f"/v1/collections/other/documents/{world['document_id']}/file").status_code == 404


def test_delete_removes_the_chunks_and_the_listing(api: httpx.Client, index: VectorIndex, samples: Path) -> None:
    response = upload(api, "scratch", "nics.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes())
    job = wait_for_job(api, response.json()["job_id"])
    assert job["state"] == "done"
    assert index.chunk_ids(stored("scratch"), job["document_id"])

    assert api.delete(f"/v1/collections/scratch/documents/{job['document_id']}").status_code == 204
    assert api.get("/v1/collections/scratch/documents").json() == []
    assert index.chunk_ids(stored("scratch"), job["document_id"]) == []
    assert api.get(f"/v1/collections/scratch/documents/{job['document_id']}/file").status_code == 404
    again = api.delete(f"/v1/collections/scratch/documents/{job['document_id']}")
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"


def test_unknown_job_is_a_problem(api: httpx.Client) -> None:
    response = api.get("/v1/jobs/" + "0" * 32)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
