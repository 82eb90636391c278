"""Which documents each collection holds, their state, and the collection's generation counter."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import redis

from ragline.stores import keys
from ragline.stores.jobs import JobState


@dataclass
class DocumentRecord:
    document_id: str
    filename: str
    job_id: str
    state: JobState = "queued"
    pages: int = 0
    chunks: int = 0


class DocumentRegistry:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        raw = self._redis.hget(keys.documents(collection), document_id)
        return DocumentRecord(**json.loads(raw)) if raw else None

    def put(self, collection: str, record: DocumentRecord) -> None:
        self._redis.hset(keys.documents(collection), record.document_id, json.dumps(asdict(record)))

    def update(self, collection: str, document_id: str, **fields: object) -> None:
        record = self.get(collection, document_id)
        if record is None:
            return
        for name, value in fields.items():
            setattr(record, name, value)
        self.put(collection, record)

    def list(self, collection: str) -> list[DocumentRecord]:
        records = [DocumentRecord(**json.loads(raw)) for raw in self._redis.hvals(keys.documents(collection))]
        return sorted(records, key=lambda record: record.filename)

    def collections(self) -> list[str]:
        """Names of the collections that hold at least one document (Redis drops an empty hash)."""
        prefix = keys.documents("")
        found = {key.decode()[len(prefix) :] for key in self._redis.scan_iter(match=keys.documents("*"), count=500)}
        return sorted(found)

    def count(self, collection: str) -> int:
        return int(self._redis.hlen(keys.documents(collection)))

    def remove(self, collection: str, document_id: str) -> bool:
        return bool(self._redis.hdel(keys.documents(collection), document_id))

    def bump_generation(self, collection: str) -> int:
        """Called on every change to a collection's content, so answers cached before it go stale."""
        return int(self._redis.incr(keys.generation(collection)))

    def generation(self, collection: str) -> int:
        return int(self._redis.get(keys.generation(collection)) or 0)
