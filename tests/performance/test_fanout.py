"""A long document's page ranges are embedded in parallel (a Celery chord over two ingest processes)
and the collection ends up holding exactly what one task working through it in order stores."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import redis

from ragline.config import Settings
from ragline.domain import chunk_id
from ragline.localstack import LocalStack
from ragline.pipeline.extract import read_pages
from ragline.pipeline.index import page_parts
from ragline.pipeline.split import split_pages
from ragline.stores.vectors import VectorIndex
from ragline.tasks import names
from tests.conftest import stored, upload, wait_for_job
from tests.performance.conftest import STACK_ENV

# Not a document the embedding cache tests use: their first uploads must find nothing cached.
REGISTER = "federal_register_2020_17221_three_column.pdf"


def test_page_ranges_fan_out_and_store_what_a_serial_run_stores(api: httpx.Client, stack: LocalStack, samples: Path) -> None:
    data = (samples / REGISTER).read_bytes()
    settings = Settings()
    serial = split_pages(read_pages(data), settings.chunk_size, settings.chunk_overlap)
    parts = page_parts(serial, int(STACK_ENV["RAGLINE_INGEST_PAGES_PER_PART"]))
    assert len(parts) >= 3

    job = wait_for_job(api, upload(api, "fanout", REGISTER, data).json()["job_id"])
    assert job["state"] == "done", job
    assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"] == len(serial)

    # One index_part_task per page range ran for this job (Celery keeps each task's name and arguments).
    backend = redis.Redis.from_url(stack.redis_url)
    ran = [json.loads(backend.get(key)) for key in backend.scan_iter("celery-task-meta-*")]
    ranges = sorted(tuple(meta["args"][1:]) for meta in ran if meta.get("name") == names.INDEX_PART_TASK and meta["args"][0] == job["job_id"])
    assert ranges == parts

    document_id = job["document_id"]
    entries = VectorIndex(stack.chroma_url).lexical_entries(stored("fanout"), document_id)
    by_id = {entry.chunk_id: (entry.document_id, entry.page, entry.text) for entry in entries}
    # The same chunks under the same ids, pages and texts, in the same order (ids carry page and index).
    assert len(entries) == len(by_id) == len(serial)
    assert [by_id.get(chunk_id(document_id, chunk)) for chunk in serial] == [(document_id, chunk.page, chunk.text) for chunk in serial]

    answer = api.post("/v1/collections/fanout/query", json={"question": "Which airplanes does the airworthiness directive apply to?"}).json()
    pages_with_text = {chunk.page for chunk in serial}
    assert answer["grounded"] and {citation["page"] for citation in answer["citations"]} <= pages_with_text
