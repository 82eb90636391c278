"""Ingest limits and fairness, with one ingest process: another tenant's small upload, sent while a
467-page book is being embedded in many page ranges, is done before the book (which never has more
than RAGLINE_INGEST_PARTS_IN_FLIGHT ranges in the queue); one page holding 1,400 chunks is embedded
in ranges of at most RAGLINE_INGEST_CHUNKS_PER_PART chunks; a document over
RAGLINE_MAX_CHUNKS_PER_DOCUMENT fails with too_many_chunks and stores nothing."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import httpx
import pymupdf
import pytest
import redis

from ragline.config import Settings
from ragline.localstack import LocalStack
from ragline.stores.vectors import VectorIndex
from ragline.tasks import names
from ragline.tenancy import scope
from tests.conftest import api_client, running_stack, upload, wait_for_job
from tests.faults.conftest import clean_run_ids
from tests.performance.fairness import BOOK, KEYS, small_upload_during_book, stack_env

CHUNKS_PER_PART = 500
MAX_CHUNKS = 2_000
# The shipped default, which the ordering below holds for.
IN_FLIGHT = Settings.model_fields["ingest_parts_in_flight"].default


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = stack_env(ingest_chunks_per_part=CHUNKS_PER_PART, max_chunks_per_document=MAX_CHUNKS)
    with running_stack("fairness", tmp_path_factory.mktemp("fairness"), env, ingest_processes=1) as running:
        yield running


@pytest.fixture(scope="module")
def smallco(stack: LocalStack) -> Iterator[httpx.Client]:
    with api_client(stack, KEYS["smallco"]) as client:
        yield client


@cache
def dense_page_pdf(chars: int) -> bytes:
    """One page of about `chars` characters of text in a tiny font, as a text dump might be."""
    rng = random.Random(chars)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(2000)]
    document = pymupdf.open()
    page = document.new_page()
    written, y = 0, 2.0
    while written < chars:
        line = " ".join(rng.choice(words) for _ in range(320))[:1800]
        page.insert_text((2, y), line, fontsize=0.5)
        written, y = written + len(line), y + 0.5
    return document.tobytes(deflate=True)


def test_a_small_upload_is_not_starved_by_another_tenants_book(stack: LocalStack, samples: Path) -> None:
    outcome = small_upload_during_book(stack, samples)
    small_job, book_job = outcome.small_job, outcome.book_job
    assert small_job["state"] == book_job["state"] == "done", (small_job, book_job)
    book_seconds = book_job["finished_at"] - book_job["created_at"]
    print(f"\nsmall upload queued -> done: {outcome.small_wait:.1f} s; the book: {book_seconds:.1f} s")
    assert outcome.small_first, "the small upload waited for the whole book"
    # The running range is out of the list: at most IN_FLIGHT - 1 others (or IN_FLIGHT, just sent) wait in it.
    assert 0 < outcome.book_queued <= IN_FLIGHT, f"the book had {outcome.book_queued} tasks in the queue"
    # Sent a few at a time, the ranges still store exactly the chunks of a clean run.
    ids = VectorIndex(stack.chroma_url).chunk_ids(scope("bigco", "library"), book_job["document_id"])
    assert sorted(ids) == clean_run_ids(samples / BOOK, book_job["document_id"])
    assert book_job["progress"]["chunks_done"] == book_job["progress"]["chunks_total"] == len(ids)


def test_one_huge_page_is_embedded_in_bounded_ranges(stack: LocalStack, smallco: httpx.Client) -> None:
    job = wait_for_job(smallco, upload(smallco, "dump", "dump.pdf", dense_page_pdf(1_300_000)).json()["job_id"], timeout=900)
    assert job["state"] == "done", job
    assert job["progress"]["pages_total"] == 1 and job["progress"]["chunks_total"] > 2 * CHUNKS_PER_PART
    backend = redis.Redis.from_url(stack.redis_url)
    metas = [json.loads(backend.get(key)) for key in backend.scan_iter("celery-task-meta-*")]
    ranges = sorted(tuple(m["args"][1:]) for m in metas if m.get("name") == names.INDEX_PART_TASK and m["args"][0] == job["job_id"])
    assert ranges[0][0] == 0 and ranges[-1][1] == job["progress"]["chunks_total"]
    assert all(stop - start <= CHUNKS_PER_PART for start, stop in ranges), ranges
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])), "ranges cover every chunk once"


def test_a_document_over_the_chunk_limit_fails_and_stores_nothing(stack: LocalStack, smallco: httpx.Client) -> None:
    before = smallco.get("/v1/collections/notes/documents").json()
    job = wait_for_job(smallco, upload(smallco, "notes", "huge.pdf", dense_page_pdf(2_600_000)).json()["job_id"])
    assert (job["state"], job["error_code"]) == ("failed", "too_many_chunks"), job
    assert str(MAX_CHUNKS) in job["error"] and "RAGLINE_MAX_CHUNKS_PER_DOCUMENT" in job["error"]
    assert smallco.get("/v1/collections/notes/documents").json() == before
    assert VectorIndex(stack.chroma_url).chunk_ids(scope("smallco", "notes"), job["document_id"]) == []
