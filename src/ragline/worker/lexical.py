"""The lexical (BM25) side of hybrid retrieval in the workers: segments built at ingest and import time,
and each query process's indexes, kept in step with the manifests (stores/lexical.py), never rebuilt
on a question.

A query process keeps `LexicalIndexes`: collection indexes, least recently used first out once they
hold more than RAGLINE_LEXICAL_CACHE_BYTES. A question reads its collection's lexical generation (one
GET); when it moved, the manifest says which segments to load or drop, and only those are read. A
process that starts, or a collection evicted earlier, loads the collection's segments (no Chroma reads).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ragline.domain import DocumentRecord, LexicalEntry
from ragline.pipeline.lexical import LexicalIndex, LexicalSegment
from ragline.stores.documents import DocumentRegistry
from ragline.stores.lexical import LexicalStore
from ragline.stores.vectors import VectorIndex
from ragline.telemetry.instruments import record_lexical_follow

logger = logging.getLogger(__name__)

# Segments read at once when a collection loads: a bucket answers each GET in tens of milliseconds.
LOAD_THREADS = 8


def put_segment(store: LexicalStore, collection: str, document_id: str, version: str, entries: Sequence[LexicalEntry]) -> None:
    """The document's words match in every query process from their next question on."""
    store.put(collection, document_id, version, LexicalSegment.build(document_id, entries).to_bytes())


@dataclass
class _Held:
    index: LexicalIndex = field(default_factory=LexicalIndex)
    versions: dict[str, str] = field(default_factory=dict)
    # The lexical generation the index matches; None while a segment could not be read (try again).
    generation: int | None = None


class LexicalIndexes:
    """One process's collection indexes, at most `budget_bytes` together (least recently used out first).

    A single collection bigger than the budget is still held while it is the one in use: a question
    must be answered. Safe to share between threads.
    """

    def __init__(self, store: LexicalStore, budget_bytes: int) -> None:
        self._store = store
        self._budget = budget_bytes
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return sum(held.index.nbytes for held in self._held.values())

    def collections(self) -> list[str]:
        """Collections held, least recently used first."""
        return list(self._held)

    def get(self, collection: str) -> LexicalIndex:
        """The collection's index as its manifest stands now."""
        with self._lock:
            generation = self._store.generation(collection)
            held = self._held.get(collection) or _Held()
            self._held[collection] = held
            self._held.move_to_end(collection)
            if held.generation != generation:
                loaded = self._follow(collection, held, generation)
                self._evict()
                record_lexical_follow(loaded, self.nbytes)
            return held.index

    def _follow(self, collection: str, held: _Held, generation: int) -> int:
        """Load the segments that are new or changed since `held` was synced, drop those removed;
        returns how many were loaded."""
        manifest = self._store.manifest(collection)
        removed = [document for document, version in held.versions.items() if manifest.get(document) != version]
        wanted = [(document, version) for document, version in manifest.items() if held.versions.get(document) != version]
        with ThreadPoolExecutor(max_workers=min(LOAD_THREADS, max(len(wanted), 1))) as pool:
            segments = list(pool.map(lambda item: self._load(collection, *item), wanted))
        loaded = [(item, segment) for item, segment in zip(wanted, segments, strict=True) if segment is not None]
        held.index.update(added=[segment for _, segment in loaded], removed=removed)
        for document in removed:
            held.versions.pop(document, None)
        held.versions.update(item for item, _ in loaded)
        held.generation = generation if len(loaded) == len(wanted) else None
        logger.info(
            "lexical index followed collection=%s generation=%s loaded=%s dropped=%s chunks=%s bytes=%s",
            collection, generation, len(loaded), len(removed), len(held.index), held.index.nbytes,
        )
        return len(loaded)

    def _load(self, collection: str, document_id: str, version: str) -> LexicalSegment | None:
        data = self._store.load(collection, document_id, version)
        return LexicalSegment.from_bytes(data) if data is not None else None

    def _evict(self) -> None:
        total = self.nbytes
        while total > self._budget and len(self._held) > 1:
            collection, held = self._held.popitem(last=False)
            total -= held.index.nbytes
            logger.info("lexical index evicted collection=%s bytes=%s", collection, held.index.nbytes)


def write_segments(vectors: VectorIndex, store: LexicalStore, collection: str, records: Iterable[DocumentRecord]) -> int:
    """Segments for documents whose chunks are in Chroma but were not split here (an imported archive, a
    document indexed before segments existed), read back from Chroma; returns how many were written."""
    written = 0
    for record in records:
        put_segment(store, collection, record.document_id, record.job_id, vectors.lexical_entries(collection, record.document_id))
        written += 1
    return written


def backfill(documents: DocumentRegistry, vectors: VectorIndex, store: LexicalStore, collections: Iterable[str]) -> int:
    """Write the segments of finished documents that have none (indexed before segments existed); returns
    how many were written. Safe to run twice, or beside ingests."""
    written = 0
    for collection in collections:
        manifest = store.manifest(collection)
        missing = [r for r in documents.list(collection) if r.state == "done" and r.document_id not in manifest]
        written += write_segments(vectors, store, collection, missing)
        for record in missing:
            # Deleted meanwhile: its segment must not outlive it.
            if documents.get(collection, record.document_id) is None:
                store.remove(collection, record.document_id)
    return written
