"""Who may send work, and when: per-key rate limits, clients that guessed too many keys, and queues
that are too long or have nobody to run them."""

from __future__ import annotations

import logging
import math
import time

from ragline.api.hardening import BlockedClients
from ragline.errors import ErrorCode, RaglineError
from ragline.stores.bundle import Stores
from ragline.stores.limits import RateLimiter

logger = logging.getLogger(__name__)

# How long a passed admission check (a live worker, a short queue) is trusted without asking Redis.
RECHECK_SECONDS = 1.0


class Admission:
    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self._settings = stores.settings
        self._rate_limiter = RateLimiter(stores.redis)
        self._blocked_clients = BlockedClients()
        # Queue -> (when this process last asked Redis, whether one of its workers was alive then).
        self._worker_seen: dict[str, tuple[float, bool]] = {}
        # Queue -> (when its length was last read, that length plus the tasks admitted since).
        self._queue_seen: dict[str, tuple[float, int]] = {}

    def charge(self, key_id: str) -> None:
        limit = self._settings.rate_limit_per_minute
        if (retry_after := self._rate_limiter.hit(key_id, limit)) is not None:
            raise RaglineError(ErrorCode.RATE_LIMITED, f"more than {limit} requests per minute", retry_after=retry_after)

    def refuse_blocked_client(self, client: str) -> None:
        """Refuse a client that guessed too many keys, whatever key it sends now (no Redis call)."""
        if (retry_after := self._blocked_clients.retry_after(client)) is not None:
            raise RaglineError(ErrorCode.AUTH_RATE_LIMITED, "too many wrong API keys from this address", retry_after=retry_after)

    def count_auth_failure(self, client: str) -> None:
        """Count a wrong key against the client's address; over the limit, block the address for the window."""
        limit = self._settings.auth_failures_per_minute
        if not limit:
            return
        if (retry_after := self._rate_limiter.hit(f"authfail-{client}", limit)) is not None:
            logger.warning("auth failures over limit client=%s limit=%s", client, limit)
            self._blocked_clients.block(client, retry_after)
            raise RaglineError(ErrorCode.AUTH_RATE_LIMITED, f"more than {limit} wrong API keys per minute", retry_after=retry_after)

    def worker_alive(self, queue: str) -> bool:
        """Whether a worker of `queue` sent a heartbeat lately."""
        now = time.monotonic()
        # Liveness moves at heartbeat pace (seconds): asking Redis once a second per queue is enough.
        asked_at, alive = self._worker_seen.get(queue, (-math.inf, False))
        if now - asked_at > RECHECK_SECONDS:
            alive = bool(self._stores.workers.alive(queue, self._settings.worker_heartbeat_ttl_seconds))
            self._worker_seen[queue] = (now, alive)
        return alive

    def admit(self, queue: str) -> None:
        """Refuse new work when its queue is already long, or when nobody would run it and its workers
        never scale to zero (work for a kind at zero is queued: the task in the list is what wakes KEDA)."""
        now = time.monotonic()
        if queue in self._settings.require_live_worker_queues and not self.worker_alive(queue):
            raise RaglineError(ErrorCode.NO_WORKER, f"no {queue} worker is running; start one and retry", retry_after=10)
        # A queue seen far below its limit a moment ago, plus what this process sent since, cannot be
        # full yet (other API replicas may add a second's worth): skip the LLEN, as costly as the send.
        limit = self._settings.max_queue_length
        seen = self._queue_seen.get(queue)
        if seen is not None and now - seen[0] <= RECHECK_SECONDS and seen[1] < limit / 2:
            self._queue_seen[queue] = (seen[0], seen[1] + 1)
            return
        waiting = int(self._stores.redis.llen(queue))
        if waiting >= limit:
            raise RaglineError(ErrorCode.QUEUE_FULL, f"the {queue} queue holds {waiting} tasks; retry later", retry_after=30)
        self._queue_seen[queue] = (now, waiting + 1)
