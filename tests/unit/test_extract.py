from pathlib import Path

import pytest

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.extract import ReadOptions, normalize_text, open_document, open_pdf, require_text
from ragline.pipeline.sniff import Format
from ragline.pipeline.tables import row_quote

pytestmark = pytest.mark.unit


def _read(samples: Path, name: str) -> bytes:
    return (samples / name).read_bytes()


def _pages(data: bytes, **options: object) -> list:
    reader = open_document(data, Format.PDF, ReadOptions(**options))  # type: ignore[arg-type]
    try:
        return list(reader.iter_pages())
    finally:
        reader.close()


def test_pages_are_numbered_from_one_and_carry_text(samples: Path) -> None:
    pages = _pages(_read(samples, "world_population_wikipedia.pdf"))
    assert [page.page for page in pages] == list(range(1, 25))
    assert "eight billion" in pages[0].text


def test_page_range_is_inclusive_and_clamped(samples: Path) -> None:
    reader = open_document(_read(samples, "world_population_wikipedia.pdf"), Format.PDF)
    assert [page.page for page in reader.iter_pages(23, 99)] == [23, 24]


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


def test_scanned_page_has_no_extractable_text_with_ocr_off(samples: Path) -> None:
    pages = _pages(_read(samples, "scanned_wikipedia_ocr_page_no_text.pdf"), ocr="off")
    with pytest.raises(RaglineError) as raised:
        require_text(pages)
    assert raised.value.code is ErrorCode.NO_EXTRACTABLE_TEXT


def test_a_scanned_page_is_read_by_ocr(samples: Path) -> None:
    reader = open_document(_read(samples, "scanned_wikipedia_ocr_page_no_text.pdf"), Format.PDF)
    assert reader.needs_ocr(1)
    (page,) = reader.iter_pages()
    assert page.ocr
    words = set(page.text.lower().split())
    assert {"optical", "character", "recognition", "electronic", "conversion"} <= words


def test_pages_with_a_text_layer_are_not_ocrd(samples: Path) -> None:
    reader = open_document(_read(samples, "world_population_wikipedia.pdf"), Format.PDF)
    assert not any(reader.needs_ocr(number) for number in range(1, reader.page_count + 1))
    assert reader.needs_ocr(1) is False
    forced = open_document(_read(samples, "world_population_wikipedia.pdf"), Format.PDF, ReadOptions(ocr="force"))
    assert forced.needs_ocr(1)


def test_a_table_keeps_its_rows_as_markdown(samples: Path) -> None:
    (page,) = _pages(_read(samples, "fbi_nics_checks_2015_11_table.pdf"))
    rows = {line.split("|")[1].strip(): line for line in page.text.splitlines() if line.startswith("|")}
    # Numbers whole, in the state's row (PyMuPDF 2.0's own table finder split them as "18870\n,").
    assert "| 18,870 | 23,022 | 22,650 |" in rows["Alabama"]
    assert "| 209 | 3,062 | 3,209 |" in rows["Alaska"]
    assert rows["Alabama"].rstrip(" |").endswith("71,137")
    # The header's words, each under the column it names, a group's name before its columns' own.
    header = next(line for line in page.text.splitlines() if line.startswith("|"))
    assert row_quote(header, rows["Texas"]).startswith("Texas: Permit 21,550, Handgun 56,941, Long Gun 51,670, *Other 2,532")
    assert "Pre-Pawn Handgun 29, Pre-Pawn Long Gun 20" in row_quote(header, rows["Texas"])
    assert row_quote(header, rows["Texas"]).endswith("Totals 146,982")
    # The text layer's one-cell-per-line reading of the table is gone; its title and notes stay.
    assert "\n18,870\n" not in page.text and page.text.count("Alabama") == 1
    assert page.text.startswith("NICS Firearm Background Checks") and "They do not represent the number of firearms sold" in page.text


def test_tables_off_reads_the_text_layer_only(samples: Path) -> None:
    (page,) = _pages(_read(samples, "fbi_nics_checks_2015_11_table.pdf"), pdf_tables=False)
    assert "Alabama" in page.text and "| --- |" not in page.text


def test_normalize_text_folds_layout_whitespace() -> None:
    assert normalize_text("  Title  \n\n\n\nfirst   line\nsecond line \n") == "Title\n\nfirst line\nsecond line"
