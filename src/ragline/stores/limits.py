"""Per-key request budgets in Redis, shared by every API replica."""

from __future__ import annotations

import time

import redis

from ragline.stores import keys


class RateLimiter:
    """Fixed one-minute windows: simple, and exact enough to stop a runaway client."""

    WINDOW_SECONDS = 60

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def hit(self, subject: str, limit: int) -> int | None:
        """Count one request; return None if allowed, else the seconds until the window resets."""
        now = time.time()
        window = int(now // self.WINDOW_SECONDS)
        key = keys.rate(subject, window)
        with self._redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, self.WINDOW_SECONDS * 2)
            count, _ = pipe.execute()
        if count <= limit:
            return None
        return max(int((window + 1) * self.WINDOW_SECONDS - now) + 1, 1)
