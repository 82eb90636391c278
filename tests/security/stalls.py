"""A stalled dependency under load, for tests/security/test_dependency_stalls.py and bench/stall.py:
SIGSTOP one server of a running local stack (it keeps its sockets, accepts connections and answers
nothing: the worst kind of outage) while threads keep uploading and asking, and a watcher times
/healthz with a client timeout throughout."""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from ragline.localstack import LocalStack

HEALTH_TIMEOUT_SECONDS = 2.0
HEALTH_INTERVAL_SECONDS = 0.1
# The load uploads hundreds of documents a minute: tenant quotas would turn them into 429s.
NO_QUOTA = {"RAGLINE_TENANT_MAX_DOCUMENTS": "0", "RAGLINE_TENANT_MAX_BYTES": "0"}


@dataclass
class Probe:
    at: float
    seconds: float
    # The status code, or the exception's name (ReadTimeout: no answer within the client timeout).
    outcome: int | str


@dataclass
class HealthWatch:
    """Times GET `url` every HEALTH_INTERVAL_SECONDS (client timeout HEALTH_TIMEOUT_SECONDS) until stopped."""

    url: str
    probes: list[Probe] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> HealthWatch:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=HEALTH_TIMEOUT_SECONDS) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    outcome: int | str = client.get(self.url).status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                self.probes.append(Probe(started, time.monotonic() - started, outcome))
                self._stop.wait(HEALTH_INTERVAL_SECONDS)

    def between(self, start: float, end: float) -> list[Probe]:
        return [probe for probe in self.probes if start <= probe.at < end]


def percentiles(probes: list[Probe]) -> tuple[float, float]:
    """p50 and p99 of the probes' latencies, in milliseconds."""
    seconds = sorted(probe.seconds for probe in probes)
    if len(seconds) < 2:
        return (seconds[0] * 1000, seconds[0] * 1000) if seconds else (float("nan"), float("nan"))
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


class Load:
    """`threads` threads, half uploading a new PDF each time, half asking `collection` a question,
    until stopped; `outcomes` counts status codes and client exceptions."""

    def __init__(self, api_url: str, pdf: bytes, collection: str, threads: int = 20, timeout: float = 60.0) -> None:
        self._api_url = api_url
        self._pdf = pdf
        self._collection = collection
        self._timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self._threads = [
            threading.Thread(target=self._run, args=(self._upload if n % 2 == 0 else self._ask,), daemon=True)
            for n in range(threads)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, request: Callable[[httpx.Client], httpx.Response]) -> None:
        with httpx.Client(base_url=self._api_url, timeout=self._timeout) as client:
            while not self._stop.is_set():
                try:
                    outcome = str(request(client).status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with self._lock:
                    self.outcomes[outcome] += 1
                if outcome.startswith("5") or not outcome.isdigit():
                    self._stop.wait(0.2)  # as a polite client would before retrying

    def _upload(self, client: httpx.Client) -> httpx.Response:
        # Bytes after %%EOF keep the PDF valid and make it a new document each time.
        data = self._pdf + b"\n%" + uuid.uuid4().hex.encode()
        return client.post(f"/v1/collections/{self._collection}/documents", files={"file": ("load.pdf", data, "application/pdf")})

    def _ask(self, client: httpx.Client) -> httpx.Response:
        question = f"How many background checks were run in total? ({uuid.uuid4().hex[:8]})"
        return client.post(f"/v1/collections/{self._collection}/query", json={"question": question})


@contextmanager
def stalled(stack: LocalStack, name: str) -> Iterator[None]:
    """SIGSTOP the service's whole process group for the block, then SIGCONT it, whatever happens."""
    process = stack.service(name).process
    assert process is not None and process.poll() is None, f"{name} is not running"
    os.killpg(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(process.pid, signal.SIGCONT)


def readiness(api_url: str) -> tuple[int, dict[str, str]]:
    """/readyz's status and checks; (0, {}) when it did not answer within the client timeout."""
    try:
        response = httpx.get(f"{api_url}/readyz", timeout=HEALTH_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json().get("checks", {})


def wait_for_readiness(api_url: str, want: Callable[[int, dict[str, str]], bool], timeout: float) -> tuple[int, dict[str, str]]:
    deadline = time.monotonic() + timeout
    seen = (0, {})
    while time.monotonic() < deadline:
        seen = readiness(api_url)
        if want(*seen):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"/readyz did not turn as expected within {timeout:g} s; last: {seen}")
