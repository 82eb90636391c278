"""The Chroma server: one Chroma collection per ragline collection, chunks with their page metadata.

Every request has a timeout (Chroma's own client has none: a stalled server held its caller for
as long as it stalled), and every call goes through the CHROMA breaker (stores/health.py): in the
API, while the probe finds Chroma down, a call fails at once instead of holding a request thread,
and no more than a few calls wait on Chroma at the same time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from chromadb.api.client import Client as ChromaClient
from chromadb.api.fastapi import FastAPI as ChromaHttpApi
from chromadb.config import Settings as ChromaSettings
from chromadb.config import System
from chromadb.errors import NotFoundError

from ragline.errors import ErrorCode, RaglineError
from ragline.domain import Chunk, chunk_id, LexicalEntry, Passage, PassageFilter
from ragline.stores.health import CHROMA, RETRY_AFTER_SECONDS, DependencyDown
from ragline.telemetry.instruments import vector_store_call
from ragline.telemetry.tracing import annotate

# Errors that mean "the Chroma server is not there right now" (worth a retry), not "the request is wrong".
UNAVAILABLE_ERRORS = (httpx.TransportError, ConnectionError)
CHROMA_PREFIX = "ragline-"
# Chunks per request when reading all of a document's chunks (for its lexical segment).
READ_PAGE_SIZE = 1000
DEFAULT_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5.0

P = ParamSpec("P")
R = TypeVar("R")


class _TimedSettings(ChromaSettings):
    ragline_request_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def require(self, key: str) -> Any:
        # chromadb accepts only its own class names as `chroma_api_impl` (it derives a client identity
        # from them), but builds the class that `require` names: ours, a subclass of its HTTP client.
        if key == "chroma_api_impl":
            return f"{TimedHttpApi.__module__}.{TimedHttpApi.__name__}"
        return super().require(key)


class TimedHttpApi(ChromaHttpApi):
    """Chroma's HTTP client with a timeout on every request, its first ones (made while the client is
    created: identity, tenant and database checks) included. chromadb 1.5.9 has no setting for it."""

    def __init__(self, system: System) -> None:
        super().__init__(system)
        seconds = float(getattr(system.settings, "ragline_request_timeout_seconds", DEFAULT_TIMEOUT_SECONDS))
        self._session.timeout = httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS))


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """One Chroma call: refused while the breaker is open, its connection failures and timeouts
    reported to the breaker and raised as DEPENDENCY_UNAVAILABLE."""

    @wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with CHROMA.call(UNAVAILABLE_ERRORS):
                return method(*args, **kwargs)
        except DependencyDown as exc:
            raise _known_down(exc.reason) from exc
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc

    return call


def require_chroma() -> None:
    """Refuse at once, as a Chroma call in this process would, while the breaker knows Chroma is down:
    for work that another process will do against Chroma (a question for the query worker)."""
    if (reason := CHROMA.refusal()) is not None:
        raise _known_down(reason)


def _known_down(reason: str) -> RaglineError:
    return RaglineError(
        ErrorCode.DEPENDENCY_UNAVAILABLE, f"the Chroma server is unavailable ({reason}); retry shortly",
        retry_after=RETRY_AFTER_SECONDS,
    )


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    document_id: str
    filename: str
    page: int
    index: int
    text: str
    location: str = ""

    @classmethod
    def of(cls, document_id: str, filename: str, chunk: Chunk) -> ChunkRecord:
        return cls(chunk_id(document_id, chunk), document_id, filename, chunk.page, chunk.index, chunk.text, chunk.location)


@dataclass(frozen=True)
class StoredChunks:
    """Chunks as the vector store holds them; row i of `vectors` (float32) belongs to ids[i]."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    metadatas: tuple[dict, ...]
    vectors: np.ndarray


class VectorIndex:
    """Adapter over a Chroma server. Collections store cosine-space vectors we compute ourselves:
    Chroma's own default embedding function downloads a model, which must never happen here."""

    def __init__(self, url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._url = url
        self._timeout_seconds = timeout_seconds

    @cached_property
    def _client(self) -> chromadb.ClientAPI:
        # What chromadb.HttpClient does, with TimedHttpApi in place of its timeout-less client.
        parts = urlsplit(self._url)
        settings = _TimedSettings(
            anonymized_telemetry=False,
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host=parts.hostname or "127.0.0.1",
            chroma_server_http_port=parts.port or (443 if parts.scheme == "https" else 8000),
            chroma_server_ssl_enabled=parts.scheme == "https",
            ragline_request_timeout_seconds=self._timeout_seconds,
        )
        try:
            return ChromaClient(settings=settings)
        except ValueError as exc:
            # Creating the client asks the server who we are, and turns a timeout or a refused
            # connection into a ValueError: give the breaker and the callers the real error.
            if isinstance(exc.__context__, UNAVAILABLE_ERRORS):
                raise exc.__context__ from exc
            raise

    @_guarded
    def heartbeat(self) -> None:
        self._client.heartbeat()

    @vector_store_call("get_collection")
    @_guarded
    def check_model(self, collection: str, model: str) -> None:
        """Refuse to mix embedding models in one collection: their vectors are not comparable."""
        existing = self._find(collection)
        if existing is not None:
            _require_same_model(collection, existing.metadata or {}, model)

    @vector_store_call("upsert")
    @_guarded
    def upsert(self, collection: str, model: str, records: Sequence[ChunkRecord], vectors: Sequence[Sequence[float]]) -> None:
        annotate(chunks=len(records))
        if not records:
            return
        self._target(collection, model, len(vectors[0])).upsert(
            ids=[record.chunk_id for record in records],
            embeddings=[list(vector) for vector in vectors],
            documents=[record.text for record in records],
            metadatas=[
                # `location` only where the format has one: a PDF's chunks stay as they were.
                {"document_id": r.document_id, "filename": r.filename, "page": r.page, "chunk": r.index}
                | ({"location": r.location} if r.location else {})
                for r in records
            ],
        )

    @vector_store_call("upsert")
    @_guarded
    def restore(self, collection: str, model: str, chunks: StoredChunks) -> None:
        """Put chunks read out of another deployment back as they were: ids, text, metadata, vectors."""
        annotate(chunks=len(chunks.ids))
        if not chunks.ids:
            return
        self._target(collection, model, chunks.vectors.shape[1]).upsert(
            ids=list(chunks.ids), embeddings=chunks.vectors, documents=list(chunks.texts), metadatas=list(chunks.metadatas)
        )

    @vector_store_call("get_collection")
    @_guarded
    def embedding_of(self, collection: str) -> tuple[str, int] | None:
        """The embedding model and dimension the collection's vectors were made with, if it exists."""
        existing = self._find(collection)
        metadata = (existing.metadata or {}) if existing is not None else {}
        if "embedding_model" not in metadata:
            return None
        return str(metadata["embedding_model"]), int(metadata["embedding_dimension"])

    @vector_store_call("get")
    @_guarded
    def read_chunks(self, collection: str, chunk_ids: Sequence[str]) -> StoredChunks:
        """These chunks with everything stored of them, vectors included, in the order asked."""
        target = self._find(collection)
        if target is None or not chunk_ids:
            return StoredChunks((), (), (), np.zeros((0, 0), dtype=np.float32))
        result = target.get(ids=list(chunk_ids), include=["documents", "metadatas", "embeddings"])
        position = {chunk_id: n for n, chunk_id in enumerate(result["ids"])}
        order = [position[chunk_id] for chunk_id in chunk_ids if chunk_id in position]
        return StoredChunks(
            ids=tuple(result["ids"][n] for n in order),
            texts=tuple(result["documents"][n] or "" for n in order),
            metadatas=tuple(dict(result["metadatas"][n]) for n in order),
            vectors=np.asarray(result["embeddings"], dtype=np.float32)[order],
        )

    @vector_store_call("query")
    @_guarded
    def query(
        self, collection: str, model: str, vector: Sequence[float], top_k: int, passage_filter: PassageFilter | None = None
    ) -> list[Passage]:
        annotate(top_k=top_k)
        target = self._find(collection)
        if target is None:
            return []
        _require_same_model(collection, target.metadata or {}, model)
        result = target.query(
            query_embeddings=[list(vector)],
            n_results=top_k,
            where=_where(passage_filter),
            include=["documents", "metadatas", "distances"],
        )
        return [
            # Chroma reports cosine distance; callers think in similarity.
            _passage(chunk_id, text, metadata, 1.0 - float(distance))
            for chunk_id, text, metadata, distance in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    @vector_store_call("get")
    @_guarded
    def score(self, collection: str, chunk_ids: Sequence[str], vector: Sequence[float]) -> list[Passage]:
        """These chunks as passages, scored by the cosine similarity of their stored vectors to `vector`."""
        target = self._find(collection)
        if target is None or not chunk_ids:
            return []
        result = target.get(ids=list(chunk_ids), include=["documents", "metadatas", "embeddings"])
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
    @_guarded
    def lexical_entries(self, collection: str, document_id: str) -> list[LexicalEntry]:
        """Every chunk of one document with its text, in reading order, read in pages (for its lexical segment)."""
        target = self._find(collection)
        rows: list[tuple[int, int, LexicalEntry]] = []
        while target is not None:
            result = target.get(
                where={"document_id": document_id}, include=["documents", "metadatas"], limit=READ_PAGE_SIZE, offset=len(rows)
            )
            rows.extend(
                (int(metadata["page"]), int(metadata["chunk"]), LexicalEntry(chunk_id, document_id, int(metadata["page"]), text or ""))
                for chunk_id, text, metadata in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
            )
            if len(result["ids"]) < READ_PAGE_SIZE:
                break
        return [entry for _, _, entry in sorted(rows, key=lambda row: row[:2])]

    @vector_store_call("get")
    @_guarded
    def chunk_ids(self, collection: str, document_id: str) -> list[str]:
        target = self._find(collection)
        if target is None:
            return []
        return target.get(where={"document_id": document_id}, include=[])["ids"]

    @vector_store_call("delete")
    @_guarded
    def delete_chunks(self, collection: str, chunk_ids: Sequence[str]) -> None:
        target = self._find(collection)
        if target is None or not chunk_ids:
            return
        target.delete(ids=list(chunk_ids))

    def delete_document(self, collection: str, document_id: str) -> None:
        self.delete_chunks(collection, self.chunk_ids(collection, document_id))

    def _target(self, collection: str, model: str, dimension: int) -> chromadb.Collection:
        """The collection to write to, created on first use with the model its vectors come from."""
        target = self._client.get_or_create_collection(
            CHROMA_PREFIX + collection,
            embedding_function=None,
            metadata={"embedding_model": model, "embedding_dimension": dimension},
            configuration={"hnsw": {"space": "cosine"}},
        )
        _require_same_model(collection, target.metadata or {}, model)
        return target

    def _find(self, collection: str) -> chromadb.Collection | None:
        """Only inside a _guarded method."""
        try:
            return self._client.get_collection(CHROMA_PREFIX + collection, embedding_function=None)
        except NotFoundError:
            return None


def _passage(chunk_id: str, text: str | None, metadata: dict, score: float) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        document_id=str(metadata["document_id"]),
        filename=str(metadata["filename"]),
        page=int(metadata["page"]),
        text=text or "",
        score=round(score, 4),
        location=str(metadata.get("location", "")),
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
    return RaglineError(
        ErrorCode.DEPENDENCY_UNAVAILABLE, f"the Chroma server is unreachable: {exc}", retry_after=RETRY_AFTER_SECONDS
    )
