"""Read a multipart upload while it streams in, refusing it as soon as it passes the size limit."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from ragline.errors import ErrorCode, RaglineError

# The parser logs a warning for every malformed body before raising; the client gets a 400 for it,
# and a flood of bad requests must not become a flood of log lines.
logging.getLogger("python_multipart.multipart").setLevel(logging.ERROR)

FILE_FIELD = "file"
MAX_FILENAME_CHARS = 255
# Multipart framing (boundaries, part headers) on top of the file itself.
MULTIPART_OVERHEAD_BYTES = 16 * 1024


@dataclass
class Upload:
    filename: str
    data: bytes


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    # Only the file part's bytes are kept; any other field is counted and dropped.
    data: bytearray | None = None


class _PartCollector:
    """python-multipart callbacks that keep the file part and count bytes and parts as they arrive."""

    def __init__(self, limit: int, max_parts: int) -> None:
        self.limit = limit
        self.max_parts = max_parts
        self.parts = 0
        self.files: list[tuple[bytes, bytearray]] = []
        self.received = 0
        # Set at the closing boundary: a body cut short before it is refused, not taken as a shorter file.
        self.complete = False
        self._part = _Part()
        self._header_field = b""
        self._header_value = b""

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_data,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_end": self._on_end,
        }

    def _on_end(self) -> None:
        self.complete = True

    def _on_part_begin(self) -> None:
        # Each part costs memory and parsing however small it is: a million empty parts must not get far.
        self.parts += 1
        if self.parts > self.max_parts:
            raise RaglineError(ErrorCode.INVALID_UPLOAD, f"more than {self.max_parts} parts in the multipart body")
        self._part = _Part()

    def _on_data(self, data: bytes, start: int, end: int) -> None:
        # Counted over all parts: many small parts must not add up to an unbounded body.
        self.received += end - start
        if self.received > self.limit:
            raise RaglineError(ErrorCode.UPLOAD_TOO_LARGE, f"the file is larger than the limit of {self.limit} bytes")
        if self._part.data is not None:
            self._part.data += data[start:end]

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._part.headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._part.headers.get(b"content-disposition", b""))
        if disposition == b"form-data" and options.get(b"name") == FILE_FIELD.encode() and b"filename" in options:
            if self.files:
                raise RaglineError(ErrorCode.INVALID_UPLOAD, "send one file per request")
            self._part.data = bytearray()
            self.files.append((options[b"filename"], self._part.data))


async def read_upload(request: Request, limit: int, max_parts: int) -> Upload:
    """Parse `multipart/form-data` with exactly one file part named `file`.

    The body is consumed chunk by chunk and abandoned at the first byte over `limit` or the first
    part over `max_parts`, so an oversized upload never sits whole in memory. Whatever the
    multipart parser rejects is a 400 invalid_upload, never a server error.
    """
    async for collector in _parse(request, limit, max_parts):
        pass
    return _single_file(collector.files)


async def stream_upload(request: Request, limit: int, max_parts: int) -> AsyncIterator[Upload]:
    """The file part of a `multipart/form-data` body as it streams in: each Upload holds the bytes
    received since the last one (never empty), so a large file never sits whole in memory. The limits
    and errors are read_upload's; the iteration ends only once the body is complete."""
    received = False
    async for collector in _parse(request, limit, max_parts):
        if collector.files and collector.files[0][1]:
            raw_name, data = collector.files[0]
            piece = bytes(data)
            data.clear()
            received = True
            yield Upload(filename=clean_filename(raw_name.decode("utf-8", "replace")), data=piece)
    if not received:
        _single_file(collector.files)


async def _parse(request: Request, limit: int, max_parts: int) -> AsyncIterator[_PartCollector]:
    """Feed the body to the multipart parser, yielding the collector after each chunk and once more
    when the body is complete."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise RaglineError(ErrorCode.INVALID_UPLOAD, f"send multipart/form-data with the file in a field named '{FILE_FIELD}'")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD_BYTES:
        raise RaglineError(ErrorCode.UPLOAD_TOO_LARGE, f"the upload is larger than the limit of {limit} bytes")

    collector = _PartCollector(limit, max_parts)
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
            yield collector
        parser.finalize()
    except FormParserError as exc:
        raise RaglineError(ErrorCode.INVALID_UPLOAD, f"the multipart body is malformed: {exc}") from exc
    if not collector.complete:
        raise RaglineError(ErrorCode.INVALID_UPLOAD, "the multipart body ends before its closing boundary")
    yield collector


def _single_file(files: list[tuple[bytes, bytearray]]) -> Upload:
    if not files:
        raise RaglineError(ErrorCode.INVALID_UPLOAD, f"no file in a form field named '{FILE_FIELD}'")
    raw_name, data = files[0]
    if not data:
        raise RaglineError(ErrorCode.EMPTY_UPLOAD, "the file is empty")
    return Upload(filename=clean_filename(raw_name.decode("utf-8", "replace")), data=bytes(data))


def clean_filename(name: str) -> str:
    """Keep the last path component and drop control characters; refuse what is left if unusable."""
    base = PureWindowsPath(PurePosixPath(name).name).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if not base or base in {".", ".."}:
        raise RaglineError(ErrorCode.INVALID_FILENAME, "the file has no usable name")
    if len(base) > MAX_FILENAME_CHARS:
        raise RaglineError(ErrorCode.INVALID_FILENAME, f"the file name is longer than {MAX_FILENAME_CHARS} characters")
    return base
