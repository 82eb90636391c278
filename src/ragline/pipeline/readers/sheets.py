"""Spreadsheets (openpyxl, read-only: rows stream from the sheet's XML, never a whole sheet in memory)
and CSV (the standard library's csv): sections of a few dozen rows, each a Markdown table under the
sheet's header row, located as "sheet Sales, rows 2-51". A cell cap bounds a huge sheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

import openpyxl

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.readers.common import ReadOptions
from ragline.domain import PageText
from ragline.pipeline.tables import markdown_table

CSV_SAMPLE_CHARS = 16 * 1024


def read_xlsx(data: bytes, options: ReadOptions) -> list[PageText]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        pages: list[PageText] = []
        budget = _CellBudget(options.max_sheet_cells)
        for sheet in workbook.worksheets:
            rows = budget.count(sheet.iter_rows(values_only=True))
            pages += _row_sections(rows, f"sheet {sheet.title}, ", options.rows_per_section, first_page=len(pages) + 1)
        return pages
    finally:
        workbook.close()


def read_csv(data: bytes, options: ReadOptions) -> list[PageText]:
    text = data.decode("utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text[:CSV_SAMPLE_CHARS], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = _CellBudget(options.max_sheet_cells).count(csv.reader(io.StringIO(text, newline=""), dialect))
    return _row_sections(rows, "", options.rows_per_section, first_page=1)


class _CellBudget:
    """Counts cells as rows stream by and stops the read past the cap (RAGLINE_MAX_SHEET_CELLS)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.cells = 0

    def count(self, rows: Iterable[Sequence[object]]) -> Iterator[Sequence[object]]:
        for row in rows:
            self.cells += len(row)
            if self.cells > self.limit:
                raise RaglineError(
                    ErrorCode.DOCUMENT_TOO_LARGE,
                    f"more than {self.limit} cells (RAGLINE_MAX_SHEET_CELLS); split the file or raise the limit",
                )
            yield row


def _row_sections(rows: Iterable[Sequence[object]], prefix: str, per_section: int, first_page: int) -> list[PageText]:
    """The first non-empty row is the header; the rows after it go in sections of `per_section`, each a
    Markdown table under that header. Row numbers are the sheet's own (1 is the first row)."""
    header: list[object] | None = None
    batch: list[tuple[int, Sequence[object]]] = []
    pages: list[PageText] = []

    def flush() -> None:
        if batch:
            first, last = batch[0][0], batch[-1][0]
            text = markdown_table([header or [], *(row for _, row in batch)])
            pages.append(PageText(page=first_page + len(pages), text=text, location=f"{prefix}rows {first}-{last}"))
            batch.clear()

    for number, row in enumerate(rows, start=1):
        if not any(cell not in (None, "") for cell in row):
            continue
        if header is None:
            header = list(row)
            continue
        batch.append((number, row))
        if len(batch) == per_section:
            flush()
    flush()
    if header is not None and not pages:
        # A sheet of one row: the header is all its content.
        pages.append(PageText(page=first_page, text=markdown_table([header]), location=f"{prefix}rows 1-1"))
    return pages
