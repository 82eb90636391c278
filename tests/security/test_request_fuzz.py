"""No request shape reaches a 500: malformed multipart of every kind the parser refuses, broken and
hostile JSON, huge numbers, huge headers and bodies, over every route of the live OpenAPI schema.
Each error is a 4xx application/problem+json with a stable code (the red team's findings, replayed)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ragline.errors import ErrorCode
from ragline.localstack import LocalStack

# Codes the API may answer a bad request with: ragline's own, and those of the framework's errors.
STABLE_CODES = {code.code for code in ErrorCode} | {"invalid_request", "method_not_allowed", "not_found"}
PROBLEM = "application/problem+json"
BOUNDARY = "fuzzb0undary"
UPLOAD = "/v1/collections/fuzz/documents"
FILE_PART = b'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
# Values for path parameters that pass their patterns, so the request reaches the route's own checks.
PATH_VALUES = {
    "collection": "fuzz",
    "document_id": "0" * 64,
    "job_id": "0" * 32,
    "task_id": "0" * 32,
    "x": "1",
    "y": "2",
}


def assert_problem(response: httpx.Response, status: int | None = None, code: str | None = None) -> dict:
    """A 4xx problem+json with a stable code (and this status and code, when given)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == PROBLEM, response.headers
    body = response.json()
    assert body["code"] in STABLE_CODES, body
    assert body["status"] == response.status_code
    if status is not None:
        assert response.status_code == status, body
    if code is not None:
        assert body["code"] == code, body
    return body


def part(headers: bytes, data: bytes = b"") -> bytes:
    return b"--" + BOUNDARY.encode() + b"\r\n" + headers + data + b"\r\n"


CLOSE = b"--" + BOUNDARY.encode() + b"--\r\n"


def empty_parts(count: int) -> Iterator[bytes]:
    one = part(b'Content-Disposition: form-data; name="x"\r\n\r\n')
    for _ in range(count // 1000):
        yield one * 1000
    yield CLOSE


# Every error python-multipart's parser raises, and the tricks around it.
MALFORMED = {
    "no boundary parameter": ("multipart/form-data", part(FILE_PART, b"%PDF-1.4") + CLOSE),
    "boundary not in the body": (f"multipart/form-data; boundary={BOUNDARY}x", part(FILE_PART, b"%PDF-1.4") + CLOSE),
    "boundary over 70 characters": ("multipart/form-data; boundary=" + "b" * 5000, part(FILE_PART, b"%PDF-1.4") + CLOSE),
    "garbage before the first boundary": (None, b"garbage\r\n" + part(FILE_PART, b"%PDF-1.4") + CLOSE),
    "boundary without CRLF": (None, b"--" + BOUNDARY.encode() + b"xx" + FILE_PART + b"%PDF-1.4\r\n" + CLOSE),
    "header without colon": (None, part(b"Content-Disposition form-data\r\n\r\n", b"x") + CLOSE),
    "header with a bare CR": (None, part(b"Content-Disposition: x\rY\r\n\r\n", b"x") + CLOSE),
    "header name with a space": (None, part(b"Content Disposition: form-data\r\n\r\n", b"x") + CLOSE),
    "part header of 10 MB": (None, part(b"X-Big: " + b"a" * 10_000_000 + b"\r\n" + FILE_PART, b"%PDF-1.4") + CLOSE),
    "too many part headers": (None, part(b"".join(b"X-%d: a\r\n" % n for n in range(50)) + FILE_PART, b"%PDF") + CLOSE),
    "filename of 100 kB": (
        None,
        part(b'Content-Disposition: form-data; name="file"; filename="' + b"a" * 100_000 + b'.pdf"\r\n\r\n', b"%PDF-1.4") + CLOSE,
    ),
    "truncated in the headers": (None, part(FILE_PART[:30])),
    "truncated in the data": (None, b"--" + BOUNDARY.encode() + b"\r\n" + FILE_PART + b"%PDF-1.4 and no closing boundary"),
    "empty body": (None, b""),
    "two files": (None, part(FILE_PART, b"%PDF-1.4 a") + part(FILE_PART, b"%PDF-1.4 b") + CLOSE),
    "no file part": (None, part(b'Content-Disposition: form-data; name="other"\r\n\r\n', b"x") + CLOSE),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_multipart_is_a_400(fuzzer: httpx.Client, case: str) -> None:
    content_type, body = MALFORMED[case]
    response = fuzzer.post(UPLOAD, content=body, headers={"content-type": content_type or f"multipart/form-data; boundary={BOUNDARY}"})
    assert_problem(response, 400)
    assert response.json()["code"] in ("invalid_upload", "empty_upload", "invalid_filename")


@pytest.mark.parametrize(
    ("name", "code"),
    [(b'"\xff\xfe\xfd.pdf"', "not_a_pdf"), (b'"' + b"n" * 300 + b'.pdf"', "invalid_filename"), (b'"../.."', "invalid_filename")],
    ids=["non-utf8", "300-characters", "a-path"],
)
def test_odd_file_names_are_handled(fuzzer: httpx.Client, name: bytes, code: str) -> None:
    body = part(b'Content-Disposition: form-data; name="file"; filename=' + name + b"\r\n\r\n", b"not a pdf") + CLOSE
    response = fuzzer.post(UPLOAD, content=body, headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert_problem(response, code=code)


def test_a_million_empty_parts_are_refused_at_the_part_limit(fuzzer: httpx.Client) -> None:
    # Streamed without a length (chunked): nothing but the part count can stop it before the size limit.
    response = fuzzer.post(UPLOAD, content=empty_parts(1_000_000), headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
    body = assert_problem(response, 400, "invalid_upload")
    assert "parts" in body["detail"]


def test_an_upload_streamed_past_the_limit_is_a_413(secured: LocalStack, fuzzer: httpx.Client) -> None:
    limit = 50 * 1024 * 1024  # RAGLINE_MAX_UPLOAD_BYTES's default, which this stack keeps

    def body() -> Iterator[bytes]:
        yield b"--" + BOUNDARY.encode() + b"\r\n" + FILE_PART + b"%PDF-1.4\n"
        for _ in range(limit // 1_000_000 + 2):
            yield b"0" * 1_000_000

    response = fuzzer.post(UPLOAD, content=body(), headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert_problem(response, 413, "upload_too_large")


@pytest.fixture(scope="module")
def operations(secured: LocalStack) -> list[tuple[str, str, bool]]:
    """(method, path with its parameters filled in, takes a JSON body) of every operation in the schema."""
    schema = httpx.get(f"{secured.api_url}/openapi.json", timeout=30).json()
    found = []
    for template, methods in schema["paths"].items():
        path = template.format(**PATH_VALUES)
        for method, operation in methods.items():
            takes_json = "application/json" in operation.get("requestBody", {}).get("content", {})
            found.append((method.upper(), path, takes_json))
    assert len(found) >= 12
    return found


def json_bodies() -> dict[str, bytes]:
    return {
        "broken": b'{"question": "q",',
        "not an object": b"[1, 2, 3]",
        "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
        "object nested 5,000 deep": b'{"question":' + b'{"a":' * 5_000 + b"1" + b"}" * 5_001,
        "integer of 5,000 digits": b'{"question": "q", "top_k": ' + b"9" * 5_000 + b"}",
        "float overflow": b'{"question": "q", "top_k": 1e400}',
        "NaN": b'{"question": "q", "top_k": NaN}',
        "invalid UTF-8": b'{"question": "\xff\xfe"}',
        "NUL in a string": b'{"question": "a\\u0000b"}',
        "lone surrogate": b'{"question": "\\ud800"}',
        "page beyond int64": b'{"question": "q", "filters": {"page_ranges": [{"first": 99999999999999999999, "last": 99999999999999999999}]}}',
        "over the body limit": b'{"question": "' + b"a" * (1024 * 1024 + 10) + b'"}',
    }


@pytest.mark.parametrize("case", sorted(json_bodies()))
def test_hostile_json_is_a_4xx_on_every_route_that_takes_json(fuzzer: httpx.Client, operations: list, case: str) -> None:
    body = json_bodies()[case]
    for method, path, takes_json in operations:
        if takes_json:
            response = fuzzer.request(method, path, content=body, headers={"content-type": "application/json"})
            assert_problem(response)
            if case == "over the body limit":
                assert response.json()["code"] == "request_too_large"


def test_huge_numbers_in_paths_are_not_server_errors(fuzzer: httpx.Client) -> None:
    assert_problem(fuzzer.post(f"/add/{'9' * 5000}/1"), 422)
    assert_problem(fuzzer.get(f"/v1/jobs/{'f' * 5000}"), 422)
    big = fuzzer.post(f"/divide/{'9' * 4000}/3")
    assert big.status_code == 200, big.text


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("one header of 20 kB", {"x-big": "a" * 20_000}),
        ("150 headers", {f"x-h{n}": "a" for n in range(150)}),
        ("cookie of 200 kB", {"cookie": "c=" + "a" * 200_000}),
    ],
)
def test_huge_headers_are_a_431_on_every_route(fuzzer: httpx.Client, operations: list, case: str, headers: dict) -> None:
    for method, path, _ in operations:
        response = fuzzer.request(method, path, headers=headers)
        assert_problem(response, 431, "headers_too_large")


def test_a_huge_request_line_is_a_431(fuzzer: httpx.Client) -> None:
    assert_problem(fuzzer.get("/v1/collections/fuzz/documents", params={"q": "a" * 60_000}), 431, "headers_too_large")


def test_every_response_says_nosniff(fuzzer: httpx.Client, operations: list) -> None:
    for method, path, _ in operations:
        response = fuzzer.request(method, path)
        assert response.headers.get("x-content-type-options") == "nosniff", (method, path)


def test_the_api_answers_normally_after_all_that(fuzzer: httpx.Client) -> None:
    assert fuzzer.get("/v1/collections/fuzz/documents").status_code == 200
