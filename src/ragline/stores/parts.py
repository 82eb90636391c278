"""Which page ranges of a fanned-out ingest are still to be sent, so a document never floods the queue.

Celery's Redis transport keeps one list per queue, first in first out, and KEDA scales on that one
list (so no priorities). Sending all of a long document's page ranges at once put every one of them
ahead of any upload that came later. Instead, a document has at most `in_flight` ranges queued or
running; each range that ends takes the next one from its pending list and sends it to the back of
the queue. Another tenant's upload sent meanwhile waits behind at most `in_flight` ranges.

Each attempt at the document (a re-send after a lost worker is another attempt) gets a token; a
range of an earlier attempt that runs late finds its token stale and does nothing.

    attempt, now = plan.start("job1", [(0, 10), (10, 20), (20, 30)], in_flight=2)   # now: the first two
    plan.finish("job1", attempt, 0)   # PartOutcome(next=(20, 30), all_done=False, current=True)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis

from ragline.stores import keys

# KEYS: plan hash, pending list, done set. ARGV: the attempt token, the finished range's start.
# Returns {-1} for a stale attempt, {0} for a range already counted, else {1, done, total[, next]}.
_FINISH = """
if redis.call('hget', KEYS[1], 'token') ~= ARGV[1] then return {-1} end
if redis.call('sadd', KEYS[3], ARGV[2]) == 0 then return {0} end
local done = redis.call('scard', KEYS[3])
local total = tonumber(redis.call('hget', KEYS[1], 'total'))
local following = redis.call('lpop', KEYS[2])
if following then return {1, done, total, following} end
return {1, done, total}
"""


@dataclass(frozen=True)
class PartOutcome:
    # The range to send now, if one was pending.
    next: tuple[int, int] | None = None
    # Every range of this attempt is stored: the document can be finished.
    all_done: bool = False
    # False: the attempt was superseded; the caller does nothing more.
    current: bool = True


class PartPlan:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds
        self._finish = client.register_script(_FINISH)

    def start(self, job_id: str, parts: list[tuple[int, int]], in_flight: int) -> tuple[str, list[tuple[int, int]]]:
        """A new attempt over `parts`: its token, and the ranges to send now (the rest wait)."""
        token = uuid.uuid4().hex
        now, later = parts[:in_flight], parts[in_flight:]
        with self._redis.pipeline() as pipe:
            pipe.delete(keys.part_plan(job_id), keys.part_pending(job_id), keys.part_done(job_id))
            pipe.hset(keys.part_plan(job_id), mapping={"token": token, "total": len(parts)})
            if later:
                pipe.rpush(keys.part_pending(job_id), *(f"{start}:{stop}" for start, stop in later))
            for key in (keys.part_plan(job_id), keys.part_pending(job_id), keys.part_done(job_id)):
                pipe.expire(key, self._ttl)
            pipe.execute()
        return token, now

    def is_current(self, job_id: str, token: str) -> bool:
        stored = self._redis.hget(keys.part_plan(job_id), "token")
        return stored is not None and stored.decode() == token

    def finish(self, job_id: str, token: str, start: int) -> PartOutcome:
        """Count the range starting at `start` as stored and take the next pending one, atomically."""
        reply = self._finish(keys=[keys.part_plan(job_id), keys.part_pending(job_id), keys.part_done(job_id)], args=[token, start])
        if reply[0] == -1:
            return PartOutcome(current=False)
        if reply[0] == 0:
            return PartOutcome()  # a second run of the same range: the first one already sent its successor
        following = None
        if len(reply) > 3:
            first, last = reply[3].decode().split(":")
            following = (int(first), int(last))
        return PartOutcome(next=following, all_done=reply[1] >= reply[2])

    def discard(self, job_id: str) -> None:
        self._redis.delete(keys.part_plan(job_id), keys.part_pending(job_id), keys.part_done(job_id))
