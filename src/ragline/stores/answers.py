"""The answer cache: finished answers keyed by the collection's generation, the question and its options.

Every ingest or delete bumps the collection's generation (DocumentRegistry.bump_generation), so a
key computed after a change never finds an answer computed before it: nothing stale is served, and
old entries simply expire. Generations are document state and stay in the main Redis; the answers live
in the cache Redis (stores/cache_redis.py), where a lookup it cannot answer is a miss.
"""

from __future__ import annotations

import hashlib
import json

import redis

from ragline.stores import keys
from ragline.stores.cache_redis import CacheRedis
from ragline.telemetry.instruments import cache_lookup, cache_store
from ragline.telemetry.metrics import ANSWER_CACHE


class AnswerCache:
    def __init__(self, client: redis.Redis, cache: CacheRedis, ttl_seconds: int) -> None:
        self._redis = client
        self._cache = cache
        self._ttl = ttl_seconds

    @property
    def enabled(self) -> bool:
        """On, and its Redis not being left alone after a failure."""
        return self._ttl > 0 and self._cache.available

    def key(self, collection: str, question: str, options: dict) -> str:
        """The key for this question now: read the generation before retrieving, never after.

        An answer stored under a generation read before an ingest finished is never read again,
        because every later key carries the bumped generation.
        """
        generation = int(self._redis.get(keys.generation(collection)) or 0)
        canonical = json.dumps({"question": " ".join(question.split()), **options}, sort_keys=True, separators=(",", ":"))
        return keys.answer_cache(collection, generation, hashlib.sha256(canonical.encode()).hexdigest())

    def get(self, key: str) -> dict | None:
        with cache_lookup(ANSWER_CACHE) as lookup:
            raw = self._cache.run(lambda client: client.get(key), None)
            lookup.hit = raw is not None
        return json.loads(raw) if raw else None

    def put(self, key: str, answer: dict) -> None:
        if self.enabled:
            with cache_store(ANSWER_CACHE):
                self._cache.run(lambda client: client.set(key, json.dumps(answer), ex=self._ttl), None)
