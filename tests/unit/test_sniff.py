"""Uploads are judged by their bytes: every accepted format, and what is refused with which code."""

from pathlib import Path

import pytest

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.sniff import Format, detect_format
from tests import documents

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("make", "name", "kind"),
    [
        (documents.docx_bytes, "report.bin", Format.DOCX),
        (documents.pptx_bytes, "slides", Format.PPTX),
        (documents.xlsx_bytes, "book.zip", Format.XLSX),
        (documents.epub_bytes, "book.docx", Format.EPUB),
        (lambda: documents.HTML, "page.txt", Format.HTML),
        (lambda: documents.MARKDOWN, "guide", Format.MARKDOWN),
        (lambda: b"State,Permit\nAlabama,18870\nAlaska,209\n", "checks", Format.CSV),
        (lambda: b"Just a few words.\nAnd another line.", "notes", Format.TEXT),
        (lambda: b"# not a heading in a .txt file", "notes.txt", Format.TEXT),
        (lambda: documents.giant_png(64, 1000), "photo.jpg", Format.PNG),
        (lambda: b"\xff\xd8\xff\xe0" + bytes(64), "x", Format.JPEG),
        (lambda: b"II*\x00" + bytes(64), "x", Format.TIFF),
    ],
)
def test_formats_are_recognised_by_content_not_name(make, name: str, kind: Format) -> None:
    assert detect_format(make(), name) is kind


def test_a_pdf_is_a_pdf_whatever_its_name(samples: Path) -> None:
    assert detect_format((samples / "world_population_wikipedia.pdf").read_bytes(), "notes.docx") is Format.PDF


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"Just some text, not a PDF at all.", "notes.pdf", ErrorCode.NOT_A_PDF),
        (documents.docx_bytes(), "claims.pdf", ErrorCode.NOT_A_PDF),
        (b"", "x", ErrorCode.EMPTY_UPLOAD),
        (bytes(range(256)), "blob.bin", ErrorCode.UNSUPPORTED_FORMAT),
        (b"GIF89a" + bytes(32), "anim.gif", ErrorCode.UNSUPPORTED_FORMAT),
        (b'<?xml version="1.0"?><svg/>', "x.svg", ErrorCode.UNSUPPORTED_FORMAT),
        (documents.zip_of({"readme.txt": b"hi"}), "a.zip", ErrorCode.UNSUPPORTED_FORMAT),
        (documents.docx_bytes()[:2000], "cut.docx", ErrorCode.MALFORMED_DOCUMENT),
        (documents.encrypted_office(documents.docx_bytes()), "secret.docx", ErrorCode.ENCRYPTED_DOCUMENT),
        (documents.encrypted_office(documents.xlsx_bytes()), "secret.xlsx", ErrorCode.ENCRYPTED_DOCUMENT),
    ],
    ids=["text-named-pdf", "docx-named-pdf", "empty", "binary", "gif", "svg", "plain-zip", "truncated", "encrypted-docx", "encrypted-xlsx"],
)
def test_what_is_not_read_is_refused_with_a_code(data: bytes, name: str, code: ErrorCode) -> None:
    with pytest.raises(RaglineError) as raised:
        detect_format(data, name)
    assert raised.value.code is code
    if code is ErrorCode.UNSUPPORTED_FORMAT:
        assert "DOCX" in raised.value.detail and "Markdown" in raised.value.detail
