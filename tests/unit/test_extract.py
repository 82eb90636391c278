from pathlib import Path

import pytest

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.extract import iter_pages, normalize_text, open_pdf, require_text


def _read(samples: Path, name: str) -> bytes:
    return (samples / name).read_bytes()


def test_pages_are_numbered_from_one_and_carry_text(samples: Path) -> None:
    document = open_pdf(_read(samples, "world_population_wikipedia.pdf"))
    pages = list(iter_pages(document))
    assert [page.page for page in pages] == list(range(1, 25))
    assert "eight billion" in pages[0].text


def test_page_range_is_inclusive_and_clamped(samples: Path) -> None:
    document = open_pdf(_read(samples, "world_population_wikipedia.pdf"))
    assert [page.page for page in iter_pages(document, 23, 99)] == [23, 24]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("encrypted_password_openpassword.pdf", ErrorCode.ENCRYPTED_PDF),
        ("malformed_header_only.pdf", ErrorCode.MALFORMED_PDF),
        ("malformed_broken_xref_zero_pages.pdf", ErrorCode.EMPTY_PDF),
    ],
)
def test_unusable_pdfs_are_refused_with_a_reason(samples: Path, name: str, code: ErrorCode) -> None:
    with pytest.raises(RaglineError) as raised:
        open_pdf(_read(samples, name))
    assert raised.value.code is code
    assert raised.value.detail


def test_truncated_pdf_is_refused(samples: Path) -> None:
    data = _read(samples, "world_population_wikipedia.pdf")
    with pytest.raises(RaglineError) as raised:
        open_pdf(data[: len(data) // 3])
    assert raised.value.code in (ErrorCode.EMPTY_PDF, ErrorCode.MALFORMED_PDF)


@pytest.mark.parametrize(("data", "code"), [(b"", ErrorCode.EMPTY_UPLOAD), (b"PK\x03\x04zip", ErrorCode.NOT_A_PDF)])
def test_non_pdf_bytes_are_refused_by_content(data: bytes, code: ErrorCode) -> None:
    with pytest.raises(RaglineError) as raised:
        open_pdf(data)
    assert raised.value.code is code


def test_scanned_page_has_no_extractable_text(samples: Path) -> None:
    pages = list(iter_pages(open_pdf(_read(samples, "scanned_wikipedia_ocr_page_no_text.pdf"))))
    with pytest.raises(RaglineError) as raised:
        require_text(pages)
    assert raised.value.code is ErrorCode.NO_EXTRACTABLE_TEXT


def test_normalize_text_folds_layout_whitespace() -> None:
    assert normalize_text("  Title  \n\n\n\nfirst   line\nsecond line \n") == "Title\n\nfirst line\nsecond line"
