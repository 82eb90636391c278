"""Bytes and intermediate outputs handed between ingest steps through Redis, each with a TTL, and the
originals of indexed documents, kept in the blob store.

An upload waits in Redis for its ingest (the API and the ingest workers always share Redis; a blob
store shared by every API and worker pod is an operator's choice). Those bytes have a TTL and a budget,
`max_transit_bytes` for all uploads together: past it, a new upload is refused with 503
uploads_backlogged until the ingest workers catch up, so a burst of uploads can never fill Redis.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import redis

from ragline.domain import Chunk, PageText
from ragline.errors import ErrorCode, RaglineError
from ragline.stores import keys
from ragline.stores.blobs import BlobStore, file_key

# Seconds an upload refused for the transit budget is told to wait: about one short ingest.
BACKLOG_RETRY_AFTER_SECONDS = 30

# Reserve ARGV[2] bytes for upload ARGV[1] if the uploads in transit (entries "BYTES EXPIRES_AT" of the
# hash KEYS[1]) leave room under ARGV[3]; entries whose upload expired are dropped on the way. Returns -1
# when reserved, else the bytes in transit. One script: concurrent uploads on every API replica never
# overshoot the budget together. Redis's own clock, so replicas' clocks need not agree.
RESERVE_TRANSIT = """
local now = tonumber(redis.call('time')[1])
local entries = redis.call('hgetall', KEYS[1])
local total = 0
for i = 1, #entries, 2 do
  local bytes, expires = string.match(entries[i + 1], '(%d+) (%d+)')
  if tonumber(expires) <= now then
    redis.call('hdel', KEYS[1], entries[i])
  else
    total = total + tonumber(bytes)
  end
end
if total + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  return total
end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. (now + tonumber(ARGV[4])))
return -1
"""


class ArtifactStore:
    def __init__(
        self,
        client: redis.Redis,
        blobs: BlobStore,
        blob_ttl_seconds: int,
        intermediate_ttl_seconds: int,
        max_transit_bytes: int,
    ) -> None:
        self._redis = client
        self._blobs = blobs
        self._blob_ttl = blob_ttl_seconds
        self._intermediate_ttl = intermediate_ttl_seconds
        self._max_transit_bytes = max_transit_bytes
        self._reserve_transit = client.register_script(RESERVE_TRANSIT)

    def put_blob(self, job_id: str, data: bytes) -> None:
        """Hold an upload for its ingest, within the transit budget (else 503 uploads_backlogged)."""
        in_transit = int(self._reserve_transit(keys=[keys.transit()], args=[job_id, len(data), self._max_transit_bytes, self._blob_ttl]))
        if in_transit >= 0:
            raise RaglineError(
                ErrorCode.UPLOADS_BACKLOGGED,
                f"{in_transit} bytes of earlier uploads are still waiting for ingest (RAGLINE_MAX_TRANSIT_BYTES is "
                f"{self._max_transit_bytes}); retry later",
                retry_after=BACKLOG_RETRY_AFTER_SECONDS,
            )
        self._redis.set(keys.blob(job_id), data, ex=self._blob_ttl)

    def get_blob(self, job_id: str) -> bytes | None:
        return self._redis.get(keys.blob(job_id))

    def put_pages(self, job_id: str, pages: list[PageText]) -> None:
        self._put_json(keys.pages(job_id), [asdict(page) for page in pages])

    def get_pages(self, job_id: str) -> list[PageText] | None:
        raw = self._get_json(keys.pages(job_id))
        return None if raw is None else [PageText(**page) for page in raw]

    def put_part_pages(self, job_id: str, first_page: int, pages: list[PageText]) -> None:
        key = keys.page_parts(job_id)
        with self._redis.pipeline() as pipe:
            pipe.hset(key, str(first_page), json.dumps([asdict(page) for page in pages]))
            pipe.expire(key, self._intermediate_ttl)
            pipe.execute()

    def get_part_pages(self, job_id: str) -> dict[int, list[PageText]]:
        """Every page range read so far, by its first page."""
        raw = self._redis.hgetall(keys.page_parts(job_id))
        return {int(first): [PageText(**page) for page in json.loads(value)] for first, value in raw.items()}

    def put_chunks(self, job_id: str, chunks: list[Chunk]) -> None:
        self._put_json(keys.chunks(job_id), [asdict(chunk) for chunk in chunks])

    def get_chunks(self, job_id: str) -> list[Chunk] | None:
        raw = self._get_json(keys.chunks(job_id))
        return None if raw is None else [Chunk(**chunk) for chunk in raw]

    def keep_file(self, job_id: str, collection: str, document_id: str) -> None:
        """Keep the upload in the blob store as the document's original once indexed; `discard` then frees Redis."""
        data = self._redis.get(keys.blob(job_id))
        if data is not None:  # None: it expired already; the document is indexed all the same
            self._blobs.put(file_key(collection, document_id), data)

    def put_file(self, collection: str, document_id: str, data: bytes) -> None:
        """The document's file, from elsewhere than an upload (an imported archive)."""
        self._blobs.put(file_key(collection, document_id), data)

    def get_file(self, collection: str, document_id: str) -> bytes | None:
        data = self._blobs.get(file_key(collection, document_id))
        if data is None:
            # Kept by a release before the blob store and not moved yet (stores/legacy_files.py moves them).
            data = self._redis.get(keys.document_file(collection, document_id))
        return data

    def delete_file(self, collection: str, document_id: str) -> None:
        self._blobs.delete(file_key(collection, document_id))
        self._redis.delete(keys.document_file(collection, document_id))

    def discard(self, job_id: str) -> None:
        """Drop the job's inputs and intermediate outputs once its document is indexed or has failed."""
        pipe = self._redis.pipeline()
        pipe.delete(keys.blob(job_id), keys.pages(job_id), keys.page_parts(job_id), keys.chunks(job_id))
        pipe.hdel(keys.transit(), job_id)
        pipe.execute()

    def _put_json(self, key: str, value: object) -> None:
        self._redis.set(key, json.dumps(value), ex=self._intermediate_ttl)

    def _get_json(self, key: str) -> list[dict] | None:
        raw = self._redis.get(key)
        return None if raw is None else json.loads(raw)
