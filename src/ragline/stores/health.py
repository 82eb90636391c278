"""What this process last saw of Redis, Chroma and the blob store, kept fresh by a background probe in the API.

A stalled dependency (stopped, swapping, overloaded) still accepts TCP connections and then never
answers: every call waits out its socket timeout while holding a thread of the API's pool, and a
burst of such calls starves every route that needs a thread. So the API runs `DependencyProbe`: one
thread per dependency that checks it every PROBE_INTERVAL_SECONDS with a short timeout and records the
outcome in that dependency's `Breaker`. While the last outcome was a failure, the Redis and Chroma
adapters (and the S3 blob store's) refuse calls at once (503 dependency_unavailable with Retry-After) instead of waiting, and
/readyz reports the same record without touching a socket. A failed real call (a timeout, a refused
connection) opens the breaker too; the next good probe closes it.

Workers run no probe: their breakers stay disarmed, and their calls wait out the timeouts, then retry.

    probe = DependencyProbe("redis://127.0.0.1:6379/0", "http://127.0.0.1:8001", blob_store.state)
    probe.start()          # arms REDIS, CHROMA and BLOBS
    probe.checks()         # {"redis": "ok", "chroma": "unreachable: timed out", "blobs": "ok"}

The blob store is checked too, so a wrong bucket, wrong keys or an unmounted volume show in /readyz at
start, not at the first ingest.
    probe.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

PROBE_INTERVAL_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 1.5
# A record older than this many intervals means the probe itself is stuck: report it, trust nothing.
STALE_AFTER_INTERVALS = 4
# Seconds a refused client is told to wait: about one probe round.
RETRY_AFTER_SECONDS = 5
# Calls to one dependency the API makes at once, and how long another call waits for a free slot:
# the API's request threads (anyio's 40) must never all sit in one slow dependency.
API_CALL_SLOTS = 10
SLOT_WAIT_SECONDS = 1.0


class DependencyDown(Exception):
    """Raised instead of calling a dependency the breaker knows to be down or saturated."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason


class Breaker:
    """The last known state of one dependency, and the gate in front of its calls once armed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._state = "unknown: not checked yet"
        self._checked_at: float | None = None
        self._armed = False
        self._slots: threading.BoundedSemaphore | None = None
        self._slot_count = 0

    def arm(self, slots: int = API_CALL_SLOTS) -> None:
        """From now on refuse calls while the last check failed, and allow `slots` calls at once."""
        with self._lock:
            self._armed = True
            self._slots = threading.BoundedSemaphore(slots)
            self._slot_count = slots

    def disarm(self) -> None:
        with self._lock:
            self._armed = False
            self._slots = None

    def record(self, state: str) -> None:
        """`state` is "ok" or what is wrong ("unreachable: ...")."""
        with self._lock:
            changed = state != self._state
            self._state = state
            self._checked_at = time.monotonic()
        # Only where it gates calls: a worker's retries log the same outage already.
        if changed and self._armed:
            log = logger.info if state == "ok" else logger.warning
            log("dependency state dependency=%s state=%s", self.name, state)

    def failed(self, exc: BaseException) -> None:
        """A real call found the dependency unreachable or stalled."""
        self.record(f"unreachable: {exc}")

    def state(self) -> str:
        with self._lock:
            state, checked_at, armed = self._state, self._checked_at, self._armed
        if armed and checked_at is not None:
            age = time.monotonic() - checked_at
            if age > STALE_AFTER_INTERVALS * PROBE_INTERVAL_SECONDS + PROBE_TIMEOUT_SECONDS:
                return f"unknown: last checked {age:.0f} s ago"
        return state

    def refusal(self) -> str | None:
        """Why a call must not be made now, or None. Disarmed (workers): always None."""
        if not self._armed:
            return None
        state = self.state()
        return None if state == "ok" else state

    def check(self) -> None:
        if (reason := self.refusal()) is not None:
            raise DependencyDown(self.name, reason)

    @contextmanager
    def call(self, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
        """Around one call: refuse it if the dependency is down or every slot is busy; a failure in
        `errors` opens the breaker."""
        self.check()
        slots = self._slots
        if slots is not None and not slots.acquire(timeout=SLOT_WAIT_SECONDS):
            raise DependencyDown(
                self.name, f"busy: {self._slot_count} calls in flight for over {SLOT_WAIT_SECONDS:g} s"
            )
        try:
            yield
        except errors as exc:
            self.failed(exc)
            raise
        finally:
            if slots is not None:
                slots.release()


REDIS = Breaker("redis")
CHROMA = Breaker("chroma")
BLOBS = Breaker("blobs")
BREAKERS = (REDIS, CHROMA, BLOBS)


def redis_state(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str:
    """PING with a short timeout and no retry; "ok" or why not."""
    client = redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
        return "ok"
    except redis.ResponseError as exc:
        return f"not ready: {exc}"  # e.g. LOADING its append-only file
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        return f"unreachable: {exc}"
    finally:
        client.close()


def chroma_state(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str:
    """Chroma's heartbeat with a short timeout; "ok" or why not."""
    try:
        response = httpx.get(f"{url}/api/v2/heartbeat", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}: {exc}"
    return "ok" if response.status_code == 200 else f"status {response.status_code}"


class DependencyProbe:
    """One daemon thread per dependency, each checking it every `interval` seconds. `blob_state` is the
    blob store's own check ("ok" or why not: BlobStore.state)."""

    def __init__(
        self, redis_url: str, chroma_url: str, blob_state: Callable[[], str], interval: float = PROBE_INTERVAL_SECONDS
    ) -> None:
        self._targets: list[tuple[Breaker, Callable[[], str]]] = [
            (REDIS, lambda: redis_state(redis_url)),
            (CHROMA, lambda: chroma_state(chroma_url)),
            (BLOBS, blob_state),
        ]
        self._interval = interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def check_once(self) -> None:
        for breaker, check in self._targets:
            breaker.record(check())

    def start(self) -> None:
        """Check each once (so readiness is known from the first request), arm the breakers, then
        keep checking in the background."""
        self.check_once()
        for breaker, check in self._targets:
            breaker.arm()
            thread = threading.Thread(target=self._run, args=(breaker, check), name=f"probe-{breaker.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=PROBE_TIMEOUT_SECONDS + 1)
        for breaker, _ in self._targets:
            breaker.disarm()

    def checks(self) -> dict[str, str]:
        return {breaker.name: breaker.state() for breaker, _ in self._targets}

    def _run(self, breaker: Breaker, check: Callable[[], str]) -> None:
        while not self._stop.wait(self._interval):
            try:
                breaker.record(check())
            except Exception as exc:  # a probe that dies would freeze the record: report and go on
                breaker.record(f"unknown: probe failed: {type(exc).__name__}: {exc}")
