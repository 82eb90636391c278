"""Recognise what an upload is by its bytes, without a parser of any format (the API image has none).

A ZIP archive is told apart by the names in its central directory (read, never decompressed) and an
OLE2 compound file by its directory (olefile), so an upload is judged by content, whatever its name.
The name only breaks ties between text formats that share every byte pattern (a CSV that is also
valid plain text), and a name ending in .pdf still claims a PDF: such a file that is not one is
refused as `not_a_pdf`, as it always was.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from enum import StrEnum
from pathlib import PurePosixPath

import olefile

from ragline.errors import ErrorCode, RaglineError

PDF_MAGIC = b"%PDF-"
# The PDF specification lets a header follow up to 1 KiB of leading junk, and real files do this.
PDF_MAGIC_WINDOW = 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# An EPUB's first member is a stored file named `mimetype` holding exactly this (EPUB OCF 3.3, 4.3).
EPUB_MIMETYPE = b"application/epub+zip"
# Enough of a text file to judge its kind.
TEXT_SAMPLE_CHARS = 16 * 1024


class Format(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    PPTX = "pptx"
    XLSX = "xlsx"
    CSV = "csv"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"
    EPUB = "epub"
    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self]

    @property
    def paged(self) -> bool:
        """Whether `page` in a citation is a page (or slide, or image frame) a reader would find."""
        return self in PAGED


MEDIA_TYPES = {
    Format.PDF: "application/pdf",
    Format.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Format.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.CSV: "text/csv",
    Format.HTML: "text/html",
    Format.MARKDOWN: "text/markdown",
    Format.TEXT: "text/plain",
    Format.EPUB: "application/epub+zip",
    Format.PNG: "image/png",
    Format.JPEG: "image/jpeg",
    Format.TIFF: "image/tiff",
}
PAGED = frozenset({Format.PDF, Format.PPTX, Format.PNG, Format.JPEG, Format.TIFF})
ACCEPTED = "PDF, DOCX, PPTX, XLSX, CSV, HTML, Markdown, plain text (UTF-8), EPUB, PNG, JPEG and TIFF"

# The part every package of each Office format must hold (ECMA-376 Part 1, 11.3.10, 13.3.6, 12.3.23).
_OFFICE_PARTS = {"word/document.xml": Format.DOCX, "ppt/presentation.xml": Format.PPTX, "xl/workbook.xml": Format.XLSX}
_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": Format.PNG,
    b"\xff\xd8\xff": Format.JPEG,
    b"II*\x00": Format.TIFF,
    b"MM\x00*": Format.TIFF,
}
# GIF and WebP: images this service does not OCR.
_OTHER_IMAGES = re.compile(rb"^(?:GIF8[79]a|RIFF....WEBP)", re.S)
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]", re.I | re.S)
# XHTML: an XML declaration and a doctype (of any name) may come before the root element.
_XHTML_ROOT = re.compile(rb"^\s*<\?xml[^>]*>.*?<html[\s>]", re.I | re.S)
_MARKUP_START = re.compile(rb"^\s*<(?:\?xml|svg|!doctype\s+svg)", re.I)
_MARKDOWN_SIGNS = re.compile(r"^(?:#{1,6}\s+\S|```|~~~|\|.*\|\s*$|[-*+]\s+\S.*\n[-*+]\s+\S|\S.*\n(?:=+|-+)\s*$)", re.M)


def looks_like_pdf(data: bytes) -> bool:
    """True when the bytes carry a PDF header, whatever the file is called.

    >>> looks_like_pdf(b"%PDF-1.7 ..."), looks_like_pdf(b"PK\\x03\\x04 a zip")
    (True, False)
    """
    return PDF_MAGIC in data[:PDF_MAGIC_WINDOW]


def detect_format(data: bytes, filename: str = "") -> Format:
    """The format of an upload, from its bytes; a RaglineError (415 or 422) for anything not read here.

    >>> detect_format(b"%PDF-1.7 ...", "x.bin"), detect_format(b"# Title\\n\\nSome words.", "notes")
    (<Format.PDF: 'pdf'>, <Format.MARKDOWN: 'markdown'>)
    """
    if not data:
        raise RaglineError(ErrorCode.EMPTY_UPLOAD, "the file is empty")
    found = _binary_format(data) or _text_format(data, PurePosixPath(filename.lower()).suffix)
    if found is not Format.PDF and filename.lower().endswith(".pdf"):
        raise RaglineError(ErrorCode.NOT_A_PDF, "the file is named .pdf but is not a PDF (no %PDF- header)")
    return found


def _binary_format(data: bytes) -> Format | None:
    if looks_like_pdf(data):
        return Format.PDF
    if _OTHER_IMAGES.match(data):
        raise RaglineError(ErrorCode.UNSUPPORTED_FORMAT, f"images are read as PNG, JPEG or TIFF only; accepted: {ACCEPTED}")
    for magic, found in _IMAGE_MAGIC.items():
        if data.startswith(magic):
            return found
    if data.startswith(ZIP_MAGIC):
        return _archive_format(data)
    if data.startswith(OLE_MAGIC):
        _refuse_compound_file(data)
    return None


def _archive_format(data: bytes) -> Format:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                # Read at most the expected length: a huge compressed `mimetype` member inflates no further.
                with archive.open("mimetype") as member:
                    if member.read(len(EPUB_MIMETYPE)) == EPUB_MIMETYPE:
                        return Format.EPUB
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError) as exc:
        raise RaglineError(ErrorCode.MALFORMED_DOCUMENT, f"the ZIP archive cannot be read (truncated or damaged?): {exc}") from exc
    for part, found in _OFFICE_PARTS.items():
        if part in names:
            return found
    raise RaglineError(ErrorCode.UNSUPPORTED_FORMAT, f"a ZIP archive that is not DOCX, PPTX, XLSX or EPUB; accepted: {ACCEPTED}")


def _refuse_compound_file(data: bytes) -> None:
    """An OLE2 file: a password-protected Office document (its package encrypted inside one), or a
    legacy .doc/.xls/.ppt."""
    try:
        with olefile.OleFileIO(data) as compound:
            encrypted = compound.exists("EncryptedPackage")
    except OSError as exc:
        raise RaglineError(ErrorCode.MALFORMED_DOCUMENT, f"the OLE2 compound file cannot be read: {exc}") from exc
    if encrypted:
        raise RaglineError(ErrorCode.ENCRYPTED_DOCUMENT, "the Office document is password-protected; remove the password and upload it again")
    raise RaglineError(
        ErrorCode.UNSUPPORTED_FORMAT, f"a legacy Office file (.doc, .xls, .ppt): save it as .docx, .xlsx or .pptx; accepted: {ACCEPTED}"
    )


def _text_format(data: bytes, suffix: str) -> Format:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise RaglineError(ErrorCode.UNSUPPORTED_FORMAT, f"the file is not a format read here; accepted: {ACCEPTED}")
    head = data[:TEXT_SAMPLE_CHARS]
    if _HTML_START.match(head.lstrip(b"\xef\xbb\xbf")) or _XHTML_ROOT.search(head):
        return Format.HTML
    if _MARKUP_START.match(head.lstrip(b"\xef\xbb\xbf")):
        raise RaglineError(ErrorCode.UNSUPPORTED_FORMAT, f"XML and SVG are not read here; accepted: {ACCEPTED}")
    sample = text[:TEXT_SAMPLE_CHARS]
    if suffix in (".md", ".markdown"):
        return Format.MARKDOWN
    if suffix in (".csv", ".tsv") and _is_table(sample):
        return Format.CSV
    if suffix == ".txt":
        return Format.TEXT
    if _MARKDOWN_SIGNS.search(sample):
        return Format.MARKDOWN
    return Format.CSV if _is_table(sample) else Format.TEXT


def _is_table(sample: str) -> bool:
    """Whether the first lines parse as delimited rows of one width, two columns or more."""
    lines = sample.splitlines()[:20]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(lines, dialect) if row}
    return len(widths) == 1 and widths.pop() >= 2
