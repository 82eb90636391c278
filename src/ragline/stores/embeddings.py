"""The embedding cache: one vector per model and chunk text, so a re-upload or an edited copy embeds only
the chunks it has not seen.

Keyed by the SHA-256 of the text, not by document or position: an unchanged page of an edited copy finds
its vectors even if the pages around it moved. Vectors are stored as raw float32 (1.5 KB for 384-d), in the
cache Redis (stores/cache_redis.py): a lookup it cannot answer is a miss, a write it refuses is skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import redis
from ragline.stores import keys
from ragline.stores.cache_redis import CacheRedis
from ragline.telemetry.instruments import cache_lookup, cache_store
from ragline.telemetry.metrics import EMBEDDING_CACHE


class EmbeddingCache:
    def __init__(self, cache: CacheRedis, ttl_seconds: int) -> None:
        self._cache = cache
        self._ttl = ttl_seconds

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get_many(self, model: str, texts: Sequence[str]) -> list[list[float] | None]:
        """The cached vector of each text, None where there is none. One round trip for the batch.

        The lookup counts as a hit only when no text of the batch is missing (nothing to embed).
        """
        if not self.enabled or not texts:
            return [None] * len(texts)
        with cache_lookup(EMBEDDING_CACHE, texts=len(texts)) as lookup:
            raw = self._cache.run(lambda client: client.mget([_key(model, text) for text in texts]), [None] * len(texts))
            lookup.hit = all(value is not None for value in raw)
        return [None if value is None else np.frombuffer(value, dtype=np.float32).tolist() for value in raw]

    def put_many(self, model: str, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        if not self.enabled or not texts:
            return
        entries = {_key(model, text): np.asarray(vector, dtype=np.float32).tobytes() for text, vector in zip(texts, vectors, strict=True)}
        with cache_store(EMBEDDING_CACHE, texts=len(texts)):
            self._cache.run(lambda client: self._store(client, entries), None)

    def _store(self, client: redis.Redis, entries: dict[str, bytes]) -> None:
        with client.pipeline(transaction=False) as pipe:
            for key, value in entries.items():
                pipe.set(key, value, ex=self._ttl)
            pipe.execute()


def _key(model: str, text: str) -> str:
    return keys.embedding_cache(model, hashlib.sha256(text.encode()).hexdigest())
