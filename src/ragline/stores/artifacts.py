"""Bytes and intermediate outputs handed between ingest steps through Redis, each with a TTL."""

from __future__ import annotations

import json
from dataclasses import asdict

import redis

from ragline.domain import Chunk, PageText
from ragline.stores import keys


class ArtifactStore:
    def __init__(self, client: redis.Redis, blob_ttl_seconds: int, intermediate_ttl_seconds: int) -> None:
        self._redis = client
        self._blob_ttl = blob_ttl_seconds
        self._intermediate_ttl = intermediate_ttl_seconds

    def put_blob(self, job_id: str, data: bytes) -> None:
        self._redis.set(keys.blob(job_id), data, ex=self._blob_ttl)

    def get_blob(self, job_id: str) -> bytes | None:
        return self._redis.get(keys.blob(job_id))

    def put_pages(self, job_id: str, pages: list[PageText]) -> None:
        self._put_json(keys.pages(job_id), [asdict(page) for page in pages])

    def get_pages(self, job_id: str) -> list[PageText] | None:
        raw = self._get_json(keys.pages(job_id))
        return None if raw is None else [PageText(**page) for page in raw]

    def put_chunks(self, job_id: str, chunks: list[Chunk]) -> None:
        self._put_json(keys.chunks(job_id), [asdict(chunk) for chunk in chunks])

    def get_chunks(self, job_id: str) -> list[Chunk] | None:
        raw = self._get_json(keys.chunks(job_id))
        return None if raw is None else [Chunk(**chunk) for chunk in raw]

    def keep_file(self, job_id: str, collection: str, document_id: str) -> None:
        """Keep the upload as the document's file once indexed (a rename: no copy of the bytes)."""
        try:
            self._redis.rename(keys.blob(job_id), keys.document_file(collection, document_id))
            self._redis.persist(keys.document_file(collection, document_id))
        except redis.ResponseError:
            pass  # the blob expired already; the document is indexed all the same

    def put_file(self, collection: str, document_id: str, data: bytes) -> None:
        """The document's file, from elsewhere than an upload (an imported archive)."""
        self._redis.set(keys.document_file(collection, document_id), data)

    def get_file(self, collection: str, document_id: str) -> bytes | None:
        return self._redis.get(keys.document_file(collection, document_id))

    def delete_file(self, collection: str, document_id: str) -> None:
        self._redis.delete(keys.document_file(collection, document_id))

    def discard(self, job_id: str) -> None:
        """Drop the job's inputs and intermediate outputs once its document is indexed or has failed."""
        self._redis.delete(keys.blob(job_id), keys.pages(job_id), keys.chunks(job_id))

    def _put_json(self, key: str, value: object) -> None:
        self._redis.set(key, json.dumps(value), ex=self._intermediate_ttl)

    def _get_json(self, key: str) -> list[dict] | None:
        raw = self._redis.get(key)
        return None if raw is None else json.loads(raw)
