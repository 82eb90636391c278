"""Which workers are alive, per queue: each worker's main process records its heartbeats here."""

from __future__ import annotations

import time

import redis

from ragline.stores import keys


class WorkerRegistry:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def beat(self, queue: str, hostname: str) -> None:
        self._redis.zadd(keys.workers(queue), {hostname: time.time()})

    def leave(self, queue: str, hostname: str) -> None:
        self._redis.zrem(keys.workers(queue), hostname)

    def alive(self, queue: str, within_seconds: float) -> list[str]:
        """Workers of `queue` heard from in the last `within_seconds`; older entries are pruned."""
        key = keys.workers(queue)
        cutoff = time.time() - within_seconds
        with self._redis.pipeline() as pipe:
            pipe.zremrangebyscore(key, "-inf", cutoff)
            pipe.zrange(key, 0, -1)
            _, members = pipe.execute()
        return [member.decode() for member in members]
