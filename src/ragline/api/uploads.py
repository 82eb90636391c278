"""Read a multipart PDF upload while it streams in, refusing it as soon as it passes the size limit."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from ragline.errors import ErrorCode, RaglineError

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
    data: bytearray = field(default_factory=bytearray)


class _PartCollector:
    """python-multipart callbacks that keep the parts and count the bytes as they arrive."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[_Part] = []
        self.received = 0
        self._header_field = b""
        self._header_value = b""

    def callbacks(self) -> dict:
        return {
            "on_part_begin": lambda: self.parts.append(_Part()),
            "on_part_data": self._on_data,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
        }

    def _on_data(self, data: bytes, start: int, end: int) -> None:
        # Counted over all parts: many small parts must not add up to an unbounded body.
        self.received += end - start
        if self.received > self.limit:
            raise RaglineError(ErrorCode.UPLOAD_TOO_LARGE, f"the file is larger than the limit of {self.limit} bytes")
        self.parts[-1].data += data[start:end]

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self.parts[-1].headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""


async def read_pdf_upload(request: Request, limit: int) -> Upload:
    """Parse `multipart/form-data` with exactly one file part named `file`.

    The body is consumed chunk by chunk and abandoned at the first byte over `limit`, so an
    oversized upload never sits whole in memory.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise RaglineError(ErrorCode.INVALID_UPLOAD, f"send multipart/form-data with the PDF in a field named '{FILE_FIELD}'")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD_BYTES:
        raise RaglineError(ErrorCode.UPLOAD_TOO_LARGE, f"the upload is larger than the limit of {limit} bytes")

    collector = _PartCollector(limit)
    parser = MultipartParser(boundary, collector.callbacks())
    async for chunk in request.stream():
        parser.write(chunk)
    parser.finalize()
    return _single_file(collector.parts)


def _single_file(parts: list[_Part]) -> Upload:
    files = []
    for part in parts:
        disposition, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        if disposition == b"form-data" and options.get(b"name") == FILE_FIELD.encode() and b"filename" in options:
            files.append((options[b"filename"], part.data))
    if not files:
        raise RaglineError(ErrorCode.INVALID_UPLOAD, f"no file in a form field named '{FILE_FIELD}'")
    if len(files) > 1:
        raise RaglineError(ErrorCode.INVALID_UPLOAD, "send one file per request")
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
