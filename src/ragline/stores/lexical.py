"""Where the lexical (BM25) index of every collection is kept: one segment per document in the blob store
under `lexical/{collection}/{document_id}/{version}`, and per collection a manifest (a Redis hash:
document id -> version) and a generation bumped with every change to it, in one step.

The ingest worker writes a document's segment when its chunks are stored; deleting the document, or
its ingest failing, removes it. Query processes follow the manifests (worker/lexical.py): every query
pod shares the blob store (a volume or an S3 bucket) and Redis, so any number of them stay in step
without talking to each other.
"""

from __future__ import annotations

import redis

from ragline.stores import keys
from ragline.stores.blobs import BlobStore

# KEYS: manifest, generation. ARGV: document id, new version ('' to remove). Returns the version replaced.
_SWAP = """
local old = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
if old ~= ARGV[2] then redis.call('INCR', KEYS[2]) end
return old
"""


def segment_key(collection: str, document_id: str, version: str) -> str:
    """Versioned, so a reader never sees a segment change under it: a new version is a new blob."""
    return f"lexical/{collection}/{document_id}/{version}"


class LexicalStore:
    """The persisted side: segments in the blob store, a manifest and a generation per collection in Redis."""

    def __init__(self, client: redis.Redis, blobs: BlobStore) -> None:
        self._redis = client
        self._blobs = blobs
        self._swap = client.register_script(_SWAP)

    def put(self, collection: str, document_id: str, version: str, segment: bytes) -> None:
        """Make `segment` (pipeline/lexical.py's LexicalSegment, as bytes) the document's, replacing an
        earlier version (a re-ingest)."""
        self._blobs.put(segment_key(collection, document_id, version), segment)
        replaced = self._swap_version(collection, document_id, version)
        if replaced and replaced != version:
            self._blobs.delete(segment_key(collection, document_id, replaced))

    def remove(self, collection: str, document_id: str) -> None:
        """The document's words no longer match, in every query process, from their next question on."""
        if replaced := self._swap_version(collection, document_id, ""):
            self._blobs.delete(segment_key(collection, document_id, replaced))

    def _swap_version(self, collection: str, document_id: str, version: str) -> str:
        replaced = self._swap(keys=[keys.lexical_manifest(collection), keys.lexical_generation(collection)], args=[document_id, version])
        return replaced.decode() if isinstance(replaced, bytes) else str(replaced)

    def generation(self, collection: str) -> int:
        return int(self._redis.get(keys.lexical_generation(collection)) or 0)

    def manifest(self, collection: str) -> dict[str, str]:
        """Document id -> segment version, for every document of the collection that has one."""
        return {document.decode(): version.decode() for document, version in self._redis.hgetall(keys.lexical_manifest(collection)).items()}

    def load(self, collection: str, document_id: str, version: str) -> bytes | None:
        """None when the blob is gone: replaced or removed since the manifest was read."""
        return self._blobs.get(segment_key(collection, document_id, version))
