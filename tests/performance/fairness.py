"""The fairness scenario of tests/performance/test_fairness.py and bench/fairness.py: one tenant's
467-page book being embedded in page ranges, then another tenant's one-page upload."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from ragline.localstack import LocalStack
from ragline.tasks import names
from tests.conftest import upload, wait_for_job, wait_until

BOOK = "art_of_public_speaking_gutenberg.pdf"
SMALL = "fbi_nics_checks_2015_11_table.pdf"
KEYS = {"bigco": "bigco-key-0123456789abcdef", "smallco": "smallco-key-0123456789abcdef"}
# Small ranges, so the book is ~47 tasks: sent at once, they would all be ahead of a later upload.
PAGES_PER_PART = 10
# Chunks of the book stored before the small upload is sent: several ranges in.
HEAD_START_CHUNKS = 80


def stack_env(**settings: object) -> dict[str, str]:
    """The stack's environment: two tenants, short page ranges, and `settings` (RAGLINE_ names, lowercase, no prefix)."""
    env = {
        "RAGLINE_API_KEYS": ",".join(f"{key}={tenant}" for tenant, key in KEYS.items()),
        "RAGLINE_INGEST_PAGES_PER_PART": str(PAGES_PER_PART),
    }
    return env | {f"RAGLINE_{name.upper()}": str(value) for name, value in settings.items()}


class QueueWatch:
    """Samples the ingest queue's length every 50 ms until stopped; `most` is the longest it saw."""

    def __init__(self, redis_url: str) -> None:
        self._redis = redis.Redis.from_url(redis_url)
        self._stop = threading.Event()
        self.most = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> QueueWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.most = max(self.most, int(self._redis.llen(names.INGEST_QUEUE)))


@dataclass
class Outcome:
    small_job: dict
    book_job: dict
    # The longest the ingest queue was while the book was alone in it.
    book_queued: int

    @property
    def small_wait(self) -> float:
        """Seconds from the small upload's acceptance to its document answering questions."""
        return self.small_job["finished_at"] - self.small_job["created_at"]

    @property
    def small_first(self) -> bool:
        return self.small_job["finished_at"] < self.book_job["finished_at"]


def small_upload_during_book(stack: LocalStack, samples: Path, collection_suffix: str = "") -> Outcome:
    with httpx.Client(base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {KEYS['bigco']}"}) as big, \
         httpx.Client(base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {KEYS['smallco']}"}) as small:
        book = upload(big, f"library{collection_suffix}", BOOK, (samples / BOOK).read_bytes()).json()
        with QueueWatch(stack.redis_url) as queue:
            wait_until(lambda: big.get(f"/v1/jobs/{book['job_id']}").json()["progress"]["chunks_done"] >= HEAD_START_CHUNKS,
                       900, "the book's indexing")
            book_queued = queue.most
        sent = upload(small, f"notes{collection_suffix}", SMALL, (samples / SMALL).read_bytes()).json()
        small_job = wait_for_job(small, sent["job_id"], timeout=900)
        book_job = wait_for_job(big, book["job_id"], timeout=900)
    return Outcome(small_job, book_job, book_queued)
