"""Ingest jobs in Redis: one hash per job, updated by the workers while they run and read by the API."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import redis

from ragline.domain import JobKind, JobState
from ragline.stores import keys

# The field of a job's parts hash holding when its page ranges started (the others count chunks).
PARTS_STARTED = "started"


@dataclass
class Job:
    job_id: str
    document_id: str
    collection: str
    filename: str
    state: JobState = "queued"
    stage: str = "queued"
    pages_done: int = 0
    pages_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    # Chunks the model embedded; the rest of chunks_done came from the embedding cache.
    chunks_embedded: int = 0
    # Pages read by OCR so far.
    pages_ocr: int = 0
    # What the upload is (sniff.Format's value): it picks the reader.
    format: str = "pdf"
    error_code: str | None = None
    error: str | None = None
    # The worker instance running a step right now (empty between steps), and how often the job
    # was sent again because its worker vanished.
    worker: str | None = None
    attempts: int = 0
    created_at: float = field(default_factory=time.time)
    # Every write to the job refreshes it: a running job that stops changing has lost its task.
    updated_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # An import fills a collection from an archive (document_id is empty, filename the archive's).
    kind: JobKind = "ingest"
    # The ingest message as sent (tasks/messages.py IngestJob, JSON), for the recovery sweep to send again.
    request: str | None = None

    _INTS = ("pages_done", "pages_total", "chunks_done", "chunks_total", "chunks_embedded", "pages_ocr", "attempts")
    _FLOATS = ("created_at", "updated_at", "started_at", "finished_at")

    def to_hash(self) -> dict[str, str]:
        encoded: dict[str, str] = {}
        for name, value in vars(self).items():
            if value is None:
                continue
            encoded[name] = json.dumps(value) if name == "timings" else str(value)
        return encoded

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> Job:
        values: dict[str, object] = {k.decode(): v.decode() for k, v in raw.items()}
        for name in cls._INTS:
            values[name] = int(values.get(name, 0))
        for name in cls._FLOATS:
            if name in values:
                values[name] = float(values[name])
        values["timings"] = json.loads(values.get("timings", "{}"))
        return cls(**values)  # type: ignore[arg-type]


def new_job_id() -> str:
    return uuid.uuid4().hex


class JobStore:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds

    def create(self, job: Job) -> None:
        key = keys.job(job.job_id)
        with self._redis.pipeline() as pipe:
            pipe.hset(key, mapping=job.to_hash())
            pipe.expire(key, self._ttl)
            pipe.sadd(keys.active_jobs(), job.job_id)
            pipe.execute()

    def active_ids(self) -> list[str]:
        return [member.decode() for member in self._redis.smembers(keys.active_jobs())]

    def get(self, job_id: str) -> Job | None:
        raw = self._redis.hgetall(keys.job(job_id))
        return Job.from_hash(raw) if raw else None

    def update(self, job_id: str, **fields: object) -> None:
        """Set some fields; `timings` entries are merged into the stored ones, not replaced."""
        key = keys.job(job_id)
        timings = fields.pop("timings", None)
        if timings:
            stored = json.loads(self._redis.hget(key, "timings") or b"{}")
            fields["timings"] = json.dumps({**stored, **timings})  # type: ignore[dict-item]
        mapping = {name: str(value) for name, value in fields.items() if value is not None}
        self._redis.hset(key, mapping={**mapping, "updated_at": str(time.time())})

    def start_stage(self, job_id: str, stage: str, worker: str) -> None:
        now = time.time()
        self._redis.hsetnx(keys.job(job_id), "started_at", str(now))
        self.update(job_id, state="running", stage=stage, worker=worker)

    def end_stage(self, job_id: str) -> None:
        """Between steps no worker holds the job: the next step waits in the queue, safe in Redis."""
        self._redis.hdel(keys.job(job_id), "worker")

    def claim_recovery(self, job_id: str, hold_seconds: int = 60) -> bool:
        """One recoverer per orphaned job, however many API replicas and workers notice it at once."""
        return bool(self._redis.set(keys.recovery_lock(job_id), b"1", nx=True, ex=hold_seconds))

    def requeue(self, job_id: str) -> None:
        with self._redis.pipeline() as pipe:
            pipe.hincrby(keys.job(job_id), "attempts", 1)
            pipe.hset(keys.job(job_id), mapping={"state": "queued", "stage": "requeued"})
            pipe.hdel(keys.job(job_id), "worker")
            pipe.execute()

    def start_parts(self, job_id: str) -> None:
        """Start counting this attempt's page ranges afresh, from now."""
        parts_key = keys.job_parts(job_id)
        with self._redis.pipeline() as pipe:
            pipe.delete(parts_key)
            pipe.hset(parts_key, PARTS_STARTED, str(time.time()))
            pipe.expire(parts_key, self._ttl)
            pipe.execute()

    def parts_elapsed(self, job_id: str) -> float | None:
        started = self._redis.hget(keys.job_parts(job_id), PARTS_STARTED)
        return round(time.time() - float(started), 3) if started else None

    def part_progress(self, job_id: str, start: int, stored: int, embedded: int) -> None:
        """Record one page range's progress and set the job's totals to the sum over its ranges.

        Per range, not an increment: a range run again after its worker died overwrites its own count.
        """
        parts_key = keys.job_parts(job_id)
        with self._redis.pipeline() as pipe:
            pipe.hset(parts_key, str(start), f"{stored} {embedded}")
            pipe.hgetall(parts_key)
            ranges = pipe.execute()[-1]
        counts = [tuple(map(int, value.split())) for name, value in ranges.items() if name != PARTS_STARTED.encode()]
        self.update(job_id, chunks_done=sum(c[0] for c in counts), chunks_embedded=sum(c[1] for c in counts))

    def advance(
        self, job_id: str, *, pages_done: int | None = None, chunks_done: int | None = None, pages_ocr: int | None = None
    ) -> None:
        self.update(job_id, pages_done=pages_done, chunks_done=chunks_done, pages_ocr=pages_ocr)

    def count_pages(self, job_id: str, pages: int, ocr: int) -> None:
        """Add pages read by one of several page-range tasks running at once (each adds its own)."""
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(keys.job(job_id), "pages_done", pages)
            pipe.hincrby(keys.job(job_id), "pages_ocr", ocr)
            pipe.hset(keys.job(job_id), "updated_at", str(time.time()))
            pipe.execute()

    def finish(self, job_id: str) -> None:
        self.update(job_id, state="done", stage="done", finished_at=time.time())
        self._settle(job_id)

    def fail(self, job_id: str, error_code: str, error: str) -> None:
        self.update(job_id, state="failed", error_code=error_code, error=error, finished_at=time.time())
        self._settle(job_id)

    def _settle(self, job_id: str) -> None:
        with self._redis.pipeline() as pipe:
            pipe.hdel(keys.job(job_id), "worker")
            pipe.delete(keys.job_parts(job_id))
            pipe.srem(keys.active_jobs(), job_id)
            pipe.execute()
