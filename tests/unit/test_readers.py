"""Each format's reader: sections with their locations, tables as Markdown, and hostile files refused
with a reason before they cost memory (zip bombs, entity expansion, huge sheets, giant images)."""

import resource

import pytest

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.extract import ReadOptions, open_document
from ragline.domain import PageText
from ragline.pipeline.sniff import detect_format
from ragline.pipeline.split import split_pages
from tests import documents

pytestmark = pytest.mark.unit

W_MAIN = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _read(data: bytes, name: str = "", **options: object) -> list[PageText]:
    reader = open_document(data, detect_format(data, name), ReadOptions(**options))  # type: ignore[arg-type]
    try:
        return list(reader.iter_pages())
    finally:
        reader.close()


def _refused(data: bytes, name: str = "", **options: object) -> RaglineError:
    with pytest.raises(RaglineError) as raised:
        _read(data, name, **options)
    return raised.value


def test_docx_sections_follow_headings_and_keep_the_table() -> None:
    pages = _read(documents.docx_bytes())
    assert [page.location for page in pages] == ["Firearm checks", "Firearm checks > November 2015", "Method"]
    assert "| Alaska | 209 | 3,062 | 3,209 |" in pages[1].text
    assert pages[1].text.startswith("November 2015\n\n| State | Permit | Handgun | Long Gun |")


def test_pptx_one_page_per_slide_with_tables_and_notes() -> None:
    pages = _read(documents.pptx_bytes())
    assert [(page.page, page.location) for page in pages] == [(1, "slide 1: Population"), (2, "slide 2: Checks by state")]
    assert "eight billion" in pages[0].text
    assert "| Arizona | 2,303 | 12,382 | 9,041 |" in pages[1].text and "Source: FBI NICS" in pages[1].text


def test_xlsx_rows_in_sections_under_the_header_row() -> None:
    rows = [["State", "Permit"]] + [[f"State {n}", n] for n in range(1, 121)]
    pages = _read(documents.xlsx_bytes(rows, sheet="Checks"))
    assert [page.location for page in pages] == ["sheet Checks, rows 2-51", "sheet Checks, rows 52-101", "sheet Checks, rows 102-121"]
    assert all(page.text.startswith("| State | Permit |\n| --- | --- |") for page in pages)
    assert "| State 120 | 120 |" in pages[2].text


def test_a_long_table_is_cut_between_rows_and_each_chunk_repeats_the_header() -> None:
    rows = [["State", "Permit", "Handgun"]] + [[f"State number {n}", n * 7, n * 11] for n in range(1, 51)]
    chunks = split_pages(_read(documents.xlsx_bytes(rows)), chunk_size=400, chunk_overlap=50)
    assert len(chunks) > 3
    assert all(chunk.text.startswith("| State | Permit | Handgun |\n| --- | --- | --- |\n") for chunk in chunks)
    assert sum(chunk.text.count("| State number ") for chunk in chunks) == 50
    row = next(chunk for chunk in chunks if "| State number 37 |" in chunk.text)
    assert "| State number 37 | 259 | 407 |" in row.text and row.location.startswith("sheet November 2015, rows ")


def test_csv_rows_with_their_header() -> None:
    (page,) = _read(b"State;Permit\nAlabama;18870\nAlaska;209\n", "checks.csv")
    assert page.location == "rows 2-3"
    assert page.text == "| State | Permit |\n| --- | --- |\n| Alabama | 18870 |\n| Alaska | 209 |"


def test_html_drops_scripts_and_styles_and_keeps_headings_and_tables() -> None:
    pages = _read(documents.HTML)
    text = "\n".join(page.text for page in pages)
    assert "secret-script-text" not in text and "fetch(" not in text and "color: red" not in text
    assert "198.51.100.1" not in text
    assert [page.location for page in pages] == ["Checks", "Checks > November"]
    assert "| Alaska | 209 |" in pages[1].text


def test_markdown_sections_by_heading_keep_their_tables() -> None:
    pages = _read(documents.MARKDOWN)
    assert [page.location for page in pages] == ["Guide", "Guide > Install"]
    assert "| --fast | skip checks |" in pages[1].text


def test_plain_text_in_sections_of_lines() -> None:
    data = "\n".join(f"line {n} of the notes" for n in range(1, 251)).encode()
    pages = _read(data, "notes.txt")
    assert [page.location for page in pages] == ["lines 1-100", "lines 101-200", "lines 201-250"]


def test_epub_chapters_in_reading_order() -> None:
    (page,) = _read(documents.epub_bytes())
    assert page.location == "Chapter 1" and "truth universally acknowledged" in page.text


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: documents.zip_bomb(documents.docx_bytes(), "word/document.xml", 300 * 1024**2), ErrorCode.DOCUMENT_TOO_LARGE),
        (lambda: documents.zip_bomb(documents.xlsx_bytes(), "xl/worksheets/sheet1.xml", 300 * 1024**2), ErrorCode.DOCUMENT_TOO_LARGE),
        (lambda: documents.zip_bomb(documents.epub_bytes(), "EPUB/chap_01.xhtml", 300 * 1024**2), ErrorCode.DOCUMENT_TOO_LARGE),
        (lambda: documents.zip_bomb(documents.pptx_bytes(), "ppt/slides/slide1.xml", 50 * 1024**2), ErrorCode.DOCUMENT_TOO_LARGE),
        (
            lambda: documents.with_member(
                documents.docx_bytes(), "word/document.xml",
                documents.billion_laughs(b"<w:document " + W_MAIN + b"><w:body><w:p><w:r><w:t>LAUGHS</w:t></w:r></w:p></w:body></w:document>"),
            ),
            ErrorCode.MALFORMED_DOCUMENT,
        ),
        (
            lambda: documents.with_member(
                documents.xlsx_bytes(), "xl/worksheets/sheet1.xml",
                documents.billion_laughs(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                                         b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>LAUGHS</t></is></c></row></sheetData></worksheet>'),
            ),
            ErrorCode.MALFORMED_DOCUMENT,
        ),
        (
            lambda: documents.with_member(documents.epub_bytes(), "EPUB/content.opf", documents.billion_laughs(b"<package>LAUGHS</package>")),
            ErrorCode.MALFORMED_DOCUMENT,
        ),
        (lambda: documents.xlsx_bytes([[n, n, n, n] for n in range(2_000)]), ErrorCode.DOCUMENT_TOO_LARGE),
        (lambda: documents.giant_png(), ErrorCode.DOCUMENT_TOO_LARGE),
    ],
    ids=["docx-bomb", "xlsx-bomb", "epub-bomb", "pptx-ratio", "docx-entities", "xlsx-entities", "epub-entities", "huge-sheet", "giant-image"],
)
def test_hostile_files_are_refused_with_bounded_memory(make, code: ErrorCode) -> None:
    data = make()
    before = _rss_mb()
    error = _refused(data, max_sheet_cells=4_000, max_archive_bytes=100 * 1024**2)
    assert error.code is code and error.detail
    # Nothing was inflated or decoded: 2 GiB bombs, 10^9 laughs, 900 Mpx cost a few MB at most.
    assert _rss_mb() - before < 100


def test_entities_in_html_are_never_expanded() -> None:
    data = documents.billion_laughs(b"<html><body><p>LAUGHS</p></body></html>")
    (page,) = _read(data, "page.html")
    assert len(page.text) < 100


def test_a_truncated_member_is_a_malformed_document() -> None:
    data = documents.docx_bytes()
    damaged = documents.with_member(data, "word/document.xml", b"<w:document " + W_MAIN + b"><w:body><w:p>")
    assert _refused(damaged).code is ErrorCode.MALFORMED_DOCUMENT


def test_images_need_ocr() -> None:
    assert _refused(documents.giant_png(64, 1000), ocr="off").code is ErrorCode.NO_EXTRACTABLE_TEXT
