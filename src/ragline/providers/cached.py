"""An embedder that asks the model only for texts the embedding cache does not hold.

    embedder = CachedEmbedder(create_embedder(settings), EmbeddingCache(stores.cache, ttl_seconds))
    vectors = embedder.embed_documents(texts)
    embedder.embedded  # how many of the texts the model had to embed
"""

from __future__ import annotations

from typing import Protocol

from ragline.domain import Embedder


class VectorCache(Protocol):
    def get_many(self, model: str, texts: list[str]) -> list[list[float] | None]: ...

    def put_many(self, model: str, texts: list[str], vectors: list[list[float]]) -> None: ...


class CachedEmbedder:
    """Counts the texts it sent to the model in `embedded`; make one per document to count per job."""

    def __init__(self, inner: Embedder, cache: VectorCache) -> None:
        self.name = inner.name
        self.embedded = 0
        self._inner = inner
        self._cache = cache

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self._cache.get_many(self.name, texts)
        missing = [i for i, vector in enumerate(vectors) if vector is None]
        if missing:
            fresh = self._inner.embed_documents([texts[i] for i in missing])
            self._cache.put_many(self.name, [texts[i] for i in missing], fresh)
            for i, vector in zip(missing, fresh, strict=True):
                vectors[i] = vector
            self.embedded += len(missing)
        return vectors  # type: ignore[return-value] - every None was filled above

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)
