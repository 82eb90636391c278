"""Every request-side limit a hostile client could reach is bounded: slow heads and bodies, key
guessing, per-tenant quotas, chat history size and page filters (the red team's findings, replayed).

The timeouts, failed-auth limit and quotas run against the bounded API (conftest.BOUNDS) so that a test
reaches them in seconds; chat and filter bounds against the stack's own API, with default settings."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pymupdf
import pytest
import redis

from ragline.localstack import LocalStack
from ragline.stores.documents import DocumentRegistry, Usage
from tests.conftest import ApiProcess, upload, wait_for_job
from tests.pdfs import blank_pages_pdf
from tests.security.conftest import BOUNDS, KEYS

# Far beyond the bounded API's 2 s head and body deadlines: a client-side bound, not a timed assertion.
PATIENCE_SECONDS = 30


def _connect(api: ApiProcess) -> socket.socket:
    address = urlsplit(api.url)
    connection = socket.create_connection((address.hostname, address.port))
    connection.settimeout(PATIENCE_SECONDS)
    return connection


def _read_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (socket.timeout if it never does)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_a_connection_that_sends_nothing_is_closed(bounded: ApiProcess) -> None:
    with _connect(bounded) as connection:
        answer = _read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"code": "request_timeout"' in answer


def test_a_head_sent_a_byte_at_a_time_is_dropped(bounded: ApiProcess) -> None:
    with _connect(bounded) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed, received = _trickle(connection)
    assert closed, "the server kept a head that never ends"
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]


def test_a_body_that_never_arrives_is_dropped_with_408(bounded: ApiProcess) -> None:
    head = (
        b"POST /v1/collections/slow/query HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + KEYS["acme"].encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with _connect(bounded) as connection:
        connection.sendall(head + b'{"question": "')
        answer = _read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_body_trickled_after_the_answer_does_not_hold_the_connection(bounded: ApiProcess) -> None:
    # /healthz answers without reading the body; each byte that follows used to restart the keep-alive timer.
    with _connect(bounded) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        closed, received = _trickle(connection)
    assert received.startswith(b"HTTP/1.1 200 "), received[:200]
    assert closed, "a trickling client held its connection open"


def _trickle(connection: socket.socket) -> tuple[bool, bytes]:
    """Send a byte every half second, as a slowloris client does, for up to PATIENCE_SECONDS; return
    whether the server closed the connection meanwhile, and what it sent."""
    received = b""
    for _ in range(PATIENCE_SECONDS * 2):
        try:
            connection.sendall(b"a")
        except OSError:
            return True, received
        if select.select([connection], [], [], 0.5)[0]:
            try:
                chunk = connection.recv(65536)
            except OSError:
                return True, received
            if not chunk:
                return True, received
            received += chunk
    return False, received


@pytest.fixture
def from_address(bounded: ApiProcess) -> Iterator[Callable[[str, str], httpx.Client]]:
    """Clients of the bounded API from other loopback addresses: the failed-auth limit is per address."""
    clients: list[httpx.Client] = []

    def client(address: str, key: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        made = httpx.Client(base_url=bounded.url, transport=transport, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()


def test_key_guessing_is_refused_per_address_with_retry_after(from_address: Callable[[str, str], httpx.Client]) -> None:
    limit = int(BOUNDS["RAGLINE_AUTH_FAILURES_PER_MINUTE"])
    # Failures are counted in one-minute windows: start early in one, so all of them land in it.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    guesser = [from_address("127.0.0.2", f"guess-{n:020d}") for n in range(limit + 3)]
    statuses = [client.get("/v1/collections/guessed/documents").status_code for client in guesser]
    assert statuses[:limit] == [401] * limit
    refused = guesser[-1].get("/v1/collections/guessed/documents")
    assert refused.status_code == 429
    assert refused.json()["code"] == "auth_rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    # Even a right key from the guessing address is refused until the window ends: guessing cannot pay.
    assert from_address("127.0.0.2", KEYS["acme"]).get("/v1/collections/guessed/documents").status_code == 429
    assert from_address("127.0.0.3", KEYS["acme"]).get("/v1/collections/guessed/documents").status_code == 200


# ---- per-tenant quotas (bounded API: 2 documents, 3 pages, 400,000 bytes) ---------------------------


@pytest.fixture(scope="module")
def quota(bounded: ApiProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bounded.url, headers={"Authorization": f"Bearer {KEYS['quota']}"}, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def registry(secured: LocalStack) -> DocumentRegistry:
    return DocumentRegistry(redis.Redis.from_url(secured.redis_url))


def _copy(samples: Path, n: int) -> bytes:
    """The one-page NICS table, made distinct (a different document id) by a trailing comment."""
    return (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes() + b"\n%copy " + str(n).encode()


def _ingested(api: httpx.Client, collection: str, name: str, data: bytes) -> dict:
    response = upload(api, collection, name, data)
    assert response.status_code == 202, response.text
    job = wait_for_job(api, response.json()["job_id"])
    assert job["state"] == "done", job
    return job


def _assert_quota(response: httpx.Response, what: str) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "quota_exceeded"
    assert what in response.json()["detail"]


def test_documents_and_bytes_quotas_refuse_uploads_and_a_delete_refunds(
    quota: httpx.Client, registry: DocumentRegistry, samples: Path
) -> None:
    first = _ingested(quota, "quota1", "one.pdf", _copy(samples, 1))
    _assert_quota(upload(quota, "quota1", "big.pdf", (samples / "world_population_wikipedia.pdf").read_bytes()), "bytes")
    _ingested(quota, "quota2", "two.pdf", _copy(samples, 2))
    _assert_quota(upload(quota, "quota2", "three.pdf", _copy(samples, 3)), "documents")
    assert registry.usage("quota").documents == 2
    assert quota.delete(f"/v1/collections/quota1/documents/{first['document_id']}").status_code == 204
    assert registry.usage("quota").documents == 1
    _ingested(quota, "quota1", "three.pdf", _copy(samples, 3))


def _pages_pdf(count: int) -> bytes:
    with pymupdf.open() as document:
        for number in range(count):
            document.new_page().insert_text((72, 72), f"Page {number + 1} of the quota test: words to index here.")
        return document.tobytes()


def test_the_pages_quota_counts_ingested_pages_and_a_failed_job_is_refunded(
    quota: httpx.Client, registry: DocumentRegistry, samples: Path
) -> None:
    for collection in ("quota1", "quota2"):
        for listed in quota.get(f"/v1/collections/{collection}/documents").json():
            assert quota.delete(f"/v1/collections/{collection}/documents/{listed['document_id']}").status_code == 204
    assert registry.usage("quota") == Usage(documents=0, pages=0, size_bytes=0)
    # Blank pages: nothing to read, OCR included (a scan would now be read by OCR and succeed).
    failed = wait_for_job(quota, upload(quota, "quota3", "blank.pdf", blank_pages_pdf(2)).json()["job_id"])
    assert failed["state"] == "failed", failed
    assert registry.usage("quota").documents == 0, "a failed ingest gives its quota back"
    job = _ingested(quota, "quota3", "three-pages.pdf", _pages_pdf(3))
    assert job["progress"]["pages_total"] == 3
    assert registry.usage("quota").pages == 3
    _assert_quota(upload(quota, "quota3", "one-more.pdf", _copy(samples, 4)), "pages")


# ---- chat history and page filters (the stack's API, default limits) -----------------------------


def test_chat_history_is_bounded_in_messages_and_characters(fuzzer: httpx.Client) -> None:
    many = [{"role": "user" if n % 2 == 0 else "assistant", "content": "hello"} for n in range(51)]
    response = fuzzer.post("/v1/chat/completions", json={"model": "history", "messages": many})
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "conversation_too_long"
    long = [{"role": "assistant", "content": "a" * 20_000}, {"role": "user", "content": "b" * 13_000}]
    response = fuzzer.post("/v1/chat/completions", json={"model": "history", "messages": long})
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "conversation_too_long"


@pytest.fixture(scope="module")
def filtered(fuzzer: httpx.Client, samples: Path) -> dict:
    return _ingested(fuzzer, "filtered", "nics.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes())


@pytest.mark.parametrize(
    "ranges",
    [[{"first": 2, "last": 9}], [{"first": 5, "last": 5}, {"first": 3, "last": 4}], [{"first": 999_999, "last": 1_000_000}]],
)
def test_a_page_filter_past_the_documents_is_a_422_at_once(fuzzer: httpx.Client, filtered: dict, ranges: list) -> None:
    response = fuzzer.post("/v1/collections/filtered/query", json={"question": "Texas handgun checks?", "filters": {"page_ranges": ranges}})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_filter"


def test_a_page_filter_beyond_any_pdf_is_a_422(fuzzer: httpx.Client, filtered: dict) -> None:
    response = fuzzer.post(
        "/v1/collections/filtered/query", json={"question": "Texas?", "filters": {"page_ranges": [{"first": 1, "last": 2**63}]}}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


def test_a_page_filter_on_real_pages_still_answers(fuzzer: httpx.Client, filtered: dict) -> None:
    response = fuzzer.post(
        "/v1/collections/filtered/query",
        json={"question": "How many handgun checks were there in Texas?", "filters": {"page_ranges": [{"first": 1, "last": 3}]}},
    )
    assert response.status_code == 200, response.text
    assert {citation["page"] for citation in response.json()["citations"]} == {1}
