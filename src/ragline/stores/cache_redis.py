"""The Redis the embedding and answer caches live in, used best effort: a cache that cannot answer is no cache.

Caches grow with the corpus (about 2 KB per chunk) and are rebuilt by use, while the broker, jobs and
documents must never be evicted. So a deployment can give the caches a Redis of their own
(RAGLINE_CACHE_REDIS_URL) that evicts its least recently used keys when full; unset, they share the
main Redis, as before. Either way a failed cache call (unreachable, stalled, or a main Redis at its
maxmemory refusing the write) is logged and answered as a miss or a skipped write, and the cache is
left alone for SKIP_SECONDS, so that a stalled cache server costs one timeout per pause, not one per call.

    cache = CacheRedis(redis.Redis.from_url("redis://cache:6379/0"))
    cache.run(lambda client: client.get("ragline:cache:..."), default=None)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from ragline.config import Settings
from ragline.stores.redis_client import FULL_ERROR, UNAVAILABLE_ERRORS, connect_plain

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long the cache is left alone after a failed call; the next call after that tries it again.
SKIP_SECONDS = 5.0
# A cache must answer faster than the work it saves (a question's embedding takes milliseconds).
CACHE_CONNECT_TIMEOUT_SECONDS = 0.5
CACHE_COMMAND_TIMEOUT_SECONDS = 2.0
CACHE_ERRORS = (*UNAVAILABLE_ERRORS, FULL_ERROR)


class CacheRedis:
    def __init__(self, client: redis.Redis, skip_seconds: float = SKIP_SECONDS) -> None:
        self.client = client
        self._skip_seconds = skip_seconds
        self._lock = threading.Lock()
        self._skip_until = 0.0

    @property
    def available(self) -> bool:
        """False while the cache is left alone after a failure."""
        with self._lock:
            return time.monotonic() >= self._skip_until

    def run(self, call: Callable[[redis.Redis], T], default: T) -> T:
        """`call(client)`, or `default` if the cache is being left alone or the call fails."""
        if not self.available:
            return default
        try:
            return call(self.client)
        except CACHE_ERRORS as exc:
            with self._lock:
                self._skip_until = time.monotonic() + self._skip_seconds
            logger.warning("cache unavailable, running without it for %gs error=%s", self._skip_seconds, exc)
            return default


def connect_cache(settings: Settings, main: redis.Redis) -> CacheRedis:
    """The cache Redis RAGLINE_CACHE_REDIS_URL names, with short timeouts; unset: `main`, the main Redis's client."""
    if settings.cache_redis_url is None:
        return CacheRedis(main)
    return CacheRedis(
        connect_plain(str(settings.cache_redis_url), CACHE_CONNECT_TIMEOUT_SECONDS, CACHE_COMMAND_TIMEOUT_SECONDS)
    )
