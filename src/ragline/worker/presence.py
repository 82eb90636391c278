"""A worker announces itself per queue on every Celery heartbeat (about every 2 s), so the API can
tell "no worker at all" from "busy" and refuse work nobody would run."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from celery.signals import heartbeat_sent, worker_ready, worker_shutdown

from ragline.config import get_settings
from ragline.stores.redis_client import UNAVAILABLE_ERRORS, connect
from ragline.stores.workers import WorkerRegistry

logger = logging.getLogger(__name__)

# Made once in the worker's main process at import, so its pool children (forked later) share it:
# a restarted worker under the same node name is another instance, and its predecessor's jobs
# are recognisably orphaned.
INSTANCE_ID = uuid.uuid4().hex[:8]
# Heartbeats between two `on_beat` calls (about 2 s each).
BEATS_PER_CALLBACK = 5


def instance_name(node_name: str) -> str:
    return f"{node_name}#{INSTANCE_ID}"


def track_presence(queue: str, on_beat: Callable[[], None] | None = None) -> None:
    """Call once in a worker module; the handlers run in the worker's main process.

    `on_beat`, if given, runs every few heartbeats (used to sweep for orphaned jobs)."""
    registry = WorkerRegistry(connect(get_settings()))
    member: list[str] = []
    beats = [0]

    def _record(action: str) -> None:
        if not member:
            return
        try:
            getattr(registry, action)(queue, member[0])
            if action == "beat" and on_beat is not None and beats[0] % BEATS_PER_CALLBACK == 0:
                on_beat()
        except UNAVAILABLE_ERRORS as exc:
            logger.warning("cannot record worker presence queue=%s error=%s", queue, exc)

    @worker_ready.connect(weak=False)
    def _ready(sender: object, **_: object) -> None:
        member.append(instance_name(sender.hostname))  # type: ignore[attr-defined]
        _record("beat")

    @heartbeat_sent.connect(weak=False)
    def _beat(**_: object) -> None:
        beats[0] += 1
        _record("beat")

    @worker_shutdown.connect(weak=False)
    def _leave(**_: object) -> None:
        _record("leave")
