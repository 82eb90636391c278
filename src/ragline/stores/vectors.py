"""The Chroma server: one Chroma collection per ragline collection, chunks with their page metadata."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.answer import Passage
from ragline.pipeline.lexical import LexicalEntry
from ragline.pipeline.retrieve import PassageFilter
from ragline.pipeline.records import Chunk, chunk_id
from ragline.telemetry.instruments import vector_store_call
from ragline.telemetry.tracing import annotate

# Errors that mean "the Chroma server is not there right now" (worth a retry), not "the request is wrong".
UNAVAILABLE_ERRORS = (httpx.TransportError, ConnectionError)
CHROMA_PREFIX = "ragline-"
# Chunks per request when reading a whole collection (for the lexical index).
READ_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    document_id: str
    filename: str
    page: int
    index: int
    text: str

    @classmethod
    def of(cls, document_id: str, filename: str, chunk: Chunk) -> ChunkRecord:
        return cls(chunk_id(document_id, chunk), document_id, filename, chunk.page, chunk.index, chunk.text)


class VectorIndex:
    """Adapter over a Chroma server. Collections store cosine-space vectors we compute ourselves:
    Chroma's own default embedding function downloads a model, which must never happen here."""

    def __init__(self, url: str) -> None:
        self._url = url

    @cached_property
    def _client(self) -> chromadb.ClientAPI:
        parts = urlsplit(self._url)
        try:
            return chromadb.HttpClient(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or (443 if parts.scheme == "https" else 8000),
                ssl=parts.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc

    def heartbeat(self) -> None:
        try:
            self._client.heartbeat()
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc

    @vector_store_call("get_collection")
    def check_model(self, collection: str, model: str) -> None:
        """Refuse to mix embedding models in one collection: their vectors are not comparable."""
        existing = self._find(collection)
        if existing is not None:
            _require_same_model(collection, existing.metadata or {}, model)

    @vector_store_call("upsert")
    def upsert(self, collection: str, model: str, records: Sequence[ChunkRecord], vectors: Sequence[Sequence[float]]) -> None:
        annotate(chunks=len(records))
        if not records:
            return
        try:
            target = self._client.get_or_create_collection(
                CHROMA_PREFIX + collection,
                embedding_function=None,
                metadata={"embedding_model": model, "embedding_dimension": len(vectors[0])},
                configuration={"hnsw": {"space": "cosine"}},
            )
            _require_same_model(collection, target.metadata or {}, model)
            target.upsert(
                ids=[record.chunk_id for record in records],
                embeddings=[list(vector) for vector in vectors],
                documents=[record.text for record in records],
                metadatas=[
                    {"document_id": r.document_id, "filename": r.filename, "page": r.page, "chunk": r.index}
                    for r in records
                ],
            )
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc

    @vector_store_call("query")
    def query(
        self, collection: str, model: str, vector: Sequence[float], top_k: int, passage_filter: PassageFilter | None = None
    ) -> list[Passage]:
        annotate(top_k=top_k)
        target = self._find(collection)
        if target is None:
            return []
        _require_same_model(collection, target.metadata or {}, model)
        try:
            result = target.query(
                query_embeddings=[list(vector)],
                n_results=top_k,
                where=_where(passage_filter),
                include=["documents", "metadatas", "distances"],
            )
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc
        return [
            # Chroma reports cosine distance; callers think in similarity.
            _passage(chunk_id, text, metadata, 1.0 - float(distance))
            for chunk_id, text, metadata, distance in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    @vector_store_call("get")
    def score(self, collection: str, chunk_ids: Sequence[str], vector: Sequence[float]) -> list[Passage]:
        """These chunks as passages, scored by the cosine similarity of their stored vectors to `vector`."""
        target = self._find(collection)
        if target is None or not chunk_ids:
            return []
        try:
            result = target.get(ids=list(chunk_ids), include=["documents", "metadatas", "embeddings"])
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc
        query = np.asarray(vector, dtype=np.float32)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        passages = []
        for stored_id, text, metadata, embedding in zip(
            result["ids"], result["documents"], result["metadatas"], result["embeddings"], strict=True
        ):
            stored = np.asarray(embedding, dtype=np.float32)
            passages.append(_passage(stored_id, text, metadata, float(stored @ query) / max(float(np.linalg.norm(stored)), 1e-12)))
        return passages

    @vector_store_call("get")
    def lexical_entries(self, collection: str) -> list[LexicalEntry]:
        """Every chunk of the collection with its text, read in pages, for an in-memory lexical index."""
        target = self._find(collection)
        entries: list[LexicalEntry] = []
        while target is not None:
            try:
                result = target.get(include=["documents", "metadatas"], limit=READ_PAGE_SIZE, offset=len(entries))
            except UNAVAILABLE_ERRORS as exc:
                raise _unavailable(exc) from exc
            entries.extend(
                LexicalEntry(chunk_id, str(metadata["document_id"]), int(metadata["page"]), text or "")
                for chunk_id, text, metadata in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
            )
            if len(result["ids"]) < READ_PAGE_SIZE:
                break
        return entries

    @vector_store_call("get")
    def chunk_ids(self, collection: str, document_id: str) -> list[str]:
        target = self._find(collection)
        if target is None:
            return []
        try:
            return target.get(where={"document_id": document_id}, include=[])["ids"]
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc

    @vector_store_call("delete")
    def delete_chunks(self, collection: str, chunk_ids: Sequence[str]) -> None:
        target = self._find(collection)
        if target is None or not chunk_ids:
            return
        try:
            target.delete(ids=list(chunk_ids))
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc

    def delete_document(self, collection: str, document_id: str) -> None:
        self.delete_chunks(collection, self.chunk_ids(collection, document_id))

    def _find(self, collection: str) -> chromadb.Collection | None:
        try:
            return self._client.get_collection(CHROMA_PREFIX + collection, embedding_function=None)
        except NotFoundError:
            return None
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc


def _passage(chunk_id: str, text: str | None, metadata: dict, score: float) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        document_id=str(metadata["document_id"]),
        filename=str(metadata["filename"]),
        page=int(metadata["page"]),
        text=text or "",
        score=round(score, 4),
    )


def _where(passage_filter: PassageFilter | None) -> dict | None:
    """The filter as a Chroma metadata `where` clause (None: every chunk)."""
    if not passage_filter:
        return None
    conditions: list[dict] = []
    if passage_filter.document_ids:
        conditions.append({"document_id": {"$in": list(passage_filter.document_ids)}})
    ranges = [{"$and": [{"page": {"$gte": first}}, {"page": {"$lte": last}}]} for first, last in passage_filter.page_ranges]
    if ranges:
        conditions.append(ranges[0] if len(ranges) == 1 else {"$or": ranges})
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _require_same_model(collection: str, metadata: dict, model: str) -> None:
    recorded = metadata.get("embedding_model")
    if recorded is not None and recorded != model:
        raise RaglineError(
            ErrorCode.EMBEDDING_MODEL_MISMATCH,
            f"collection '{collection}' was indexed with embedding model '{recorded}', but this service "
            f"is configured for '{model}'; use another collection or the same model",
        )


def _unavailable(exc: Exception) -> RaglineError:
    return RaglineError(ErrorCode.DEPENDENCY_UNAVAILABLE, f"the Chroma server is unreachable: {exc}")
