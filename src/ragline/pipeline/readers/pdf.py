"""PDFs and images through PyMuPDF: the text layer page by page; Tesseract OCR (through PyMuPDF) for a
page whose text layer is missing or far too small for the images it shows; and, on pages that look
tabular, the tables read by pdfplumber and written as Markdown tables in place of the text layer's
one-cell-per-line reading of them.

pdfplumber's "text" strategy is used for tables because PyMuPDF 2.0's `find_tables(strategy="text")`
splits numbers on the FBI NICS sample ("18870\\n,") where pdfplumber keeps them whole ("18,870"), and
is slower (docs/formats.md has the measurement).
"""

from __future__ import annotations

import io
import os
import re
import statistics
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import pdfplumber
import pymupdf
from pdfplumber.page import Page as PlumberPage
from pdfplumber.table import Table
from PIL import Image

from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.readers.common import ReadOptions, normalize_text
from ragline.domain import PageText
from ragline.pipeline.sniff import looks_like_pdf
from ragline.pipeline.tables import markdown_table

# A page with fewer characters than this in its text layer, and images over half its area, shows
# more than its text layer holds: a scan, perhaps with a one-line header the scanner added.
OCR_TEXT_CHARS = 200
OCR_IMAGE_SHARE = 0.5
# A page whose words are this often numbers (with at least this many words) is worth a table search.
TABULAR_NUMBER_SHARE = 0.4
TABULAR_MIN_WORDS = 60
# get_text("blocks") tuples: (x0, y0, x1, y1, text, block number, block type); type 1 is an image.
_TEXT_BLOCK = 0
_NUMBER = re.compile(r"^[(\-+$€£]?\d[\d.,]*%?\)?$")
# pdfplumber's text strategy: columns from aligned words, rows from text lines (no ruling needed).
TABLE_SETTINGS = {"vertical_strategy": "text", "horizontal_strategy": "text"}


def open_pdf(data: bytes) -> pymupdf.Document:
    """Open PDF bytes, turning every way a file can be unusable into a RaglineError with a reason.

    >>> document = open_pdf(open("world_population_wikipedia.pdf", "rb").read())
    >>> document.page_count
    24
    """
    if not data:
        raise RaglineError(ErrorCode.EMPTY_UPLOAD, "the file is empty")
    if not looks_like_pdf(data):
        raise RaglineError(ErrorCode.NOT_A_PDF, "the file does not start with a PDF header (%PDF-)")
    try:
        document = pymupdf.open(stream=data, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        raise RaglineError(ErrorCode.MALFORMED_PDF, f"the PDF cannot be parsed: {exc}") from exc
    if document.needs_pass:
        document.close()
        raise RaglineError(ErrorCode.ENCRYPTED_PDF, "the PDF is password-protected")
    if document.page_count == 0:
        document.close()
        # PyMuPDF "repairs" truncated or damaged files into zero-page documents instead of raising.
        raise RaglineError(ErrorCode.EMPTY_PDF, "the PDF has no pages (it may be truncated or damaged)")
    return document


def open_image(data: bytes, kind: str, max_pixels: int) -> pymupdf.Document:
    """An image (every frame of a TIFF) as a PyMuPDF document of one page per frame, refused before
    decoding when any frame has more than `max_pixels` pixels."""
    with warnings.catch_warnings():
        # Pillow warns past its own bound (89 Mpx); the bound that counts here is max_pixels.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                frames = getattr(image, "n_frames", 1)
                for frame in range(frames):
                    image.seek(frame)
                    width, height = image.size
                    if width * height > max_pixels:
                        raise RaglineError(
                            ErrorCode.DOCUMENT_TOO_LARGE,
                            f"the image is {width} x {height} pixels, more than the {max_pixels} allowed (RAGLINE_MAX_IMAGE_PIXELS)",
                        )
        except Image.DecompressionBombError as exc:
            raise RaglineError(ErrorCode.DOCUMENT_TOO_LARGE, f"the image is too large to decode: {exc}") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise RaglineError(ErrorCode.MALFORMED_DOCUMENT, f"the image cannot be read: {exc}") from exc
    try:
        return pymupdf.open(stream=data, filetype=kind)
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        raise RaglineError(ErrorCode.MALFORMED_DOCUMENT, f"the image cannot be read: {exc}") from exc


class PdfReader:
    """Pages of a PyMuPDF document (a PDF, or an image opened as one), one in memory at a time."""

    paged = True

    def __init__(self, document: pymupdf.Document, data: bytes, options: ReadOptions, image: bool = False) -> None:
        self.document = document
        self._data = data
        self._options = options
        # An image has no text layer: every frame is OCR'd, unless OCR is off.
        self._image = image
        # The text layer of the page needs_ocr looked at last, which read_page then reads again.
        self._seen: tuple[int, str] | None = None

    @property
    def page_count(self) -> int:
        return self.document.page_count

    def needs_ocr(self, number: int) -> bool:
        """Whether page `number` (1-based) is to be read by OCR under the options."""
        mode = self._options.ocr
        if mode == "off":
            return False
        if mode == "force" or self._image:
            return True
        page = self.document.load_page(number - 1)
        self._seen = (number, page_text(page))
        if len(self._seen[1]) >= OCR_TEXT_CHARS:
            return False
        area = abs(page.rect) or 1.0
        covered = sum(abs(pymupdf.Rect(info["bbox"]) & page.rect) for info in page.get_image_info())
        return covered / area >= OCR_IMAGE_SHARE

    def iter_pages(self, first_page: int = 1, last_page: int | None = None) -> Iterator[PageText]:
        """Pages first_page..last_page (1-based, inclusive), one page in memory at a time."""
        last = self.page_count if last_page is None else min(last_page, self.page_count)
        for number in range(first_page, last + 1):
            yield self.read_page(number, ocr=self.needs_ocr(number))

    def read_page(self, number: int, ocr: bool) -> PageText:
        """Page `number` (1-based), by OCR or from its text layer (with its tables as Markdown)."""
        if ocr:
            return PageText(page=number, text=self._ocr(number), ocr=True)
        seen = self._seen
        text = seen[1] if seen and seen[0] == number else page_text(self.document.load_page(number - 1))
        if self._options.pdf_tables and not self._image and _looks_tabular(text):
            text = self._with_tables(number)
        return PageText(page=number, text=text)

    def _ocr(self, number: int) -> str:
        # Tesseract's OpenMP threads fight each other on a busy machine: 11-14 s a page instead of 3-5.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        page = self.document.load_page(number - 1)
        try:
            textpage = page.get_textpage_ocr(language=self._options.ocr_languages, dpi=self._options.ocr_dpi, full=True)
        except RuntimeError as exc:
            raise RaglineError(ErrorCode.INTERNAL, f"OCR of page {number} failed (is tesseract-ocr installed?): {exc}") from exc
        return normalize_text(page.get_text(textpage=textpage))

    @cached_property
    def _plumber(self) -> pdfplumber.PDF:
        return pdfplumber.open(io.BytesIO(self._data))

    def _with_tables(self, number: int) -> str:
        """The page's text blocks outside its tables, then each table as Markdown. The notes under a
        table stay in the text layer: the text strategy also takes them in, cut into cells mid-word."""
        plumber_page = self._plumber.pages[number - 1]
        tables = [table for found in plumber_page.find_tables(TABLE_SETTINGS) if (table := layout_table(plumber_page, found))]
        plumber_page.close()
        page = self.document.load_page(number - 1)
        # pdfplumber and PyMuPDF place an unrotated page's words alike; a rotated page keeps its text whole.
        regions = [table.region for table in tables] if page.rotation == 0 else []
        return "\n\n".join([page_text(page, outside=regions), *(table.markdown for table in tables)])

    def close(self) -> None:
        self.document.close()
        if "_plumber" in self.__dict__:
            self._plumber.close()


def page_text(page: pymupdf.Page, outside: Sequence[pymupdf.Rect] = ()) -> str:
    """The page's text blocks in reading order, separated by blank lines (see normalize_text), but for
    blocks centred in one of the `outside` regions.

    Each text block (a paragraph, heading, caption or table, as PyMuPDF lays them out) is a paragraph
    of its own: a sentence never runs on into the heading or caption that follows it, and the splitter
    cuts chunks between blocks first.
    """
    blocks = [block for block in page.get_text("blocks") if block[6] == _TEXT_BLOCK]
    kept = [block[4] for block in blocks if not any(_centre(block) in region for region in outside)]
    return normalize_text("\n\n".join(kept))


def _centre(block: tuple) -> pymupdf.Point:
    x0, y0, x1, y1 = block[:4]
    return pymupdf.Point((x0 + x1) / 2, (y0 + y1) / 2)


@dataclass(frozen=True)
class LayoutTable:
    """A table read from a page's layout: as Markdown, and the region of the page it covers (in
    PyMuPDF's coordinates), from its top to its body's last row."""

    markdown: str
    region: pymupdf.Rect


def layout_table(page: PlumberPage, table: Table) -> LayoutTable | None:
    """The table's body (its first run of rows that hold a number, so notes below it are left out)
    under a header named from the words above the body; None for a table with no such body."""
    rows = table.extract()
    body = _body(rows)
    if body is None:
        return None
    first, last = body
    body_top, body_bottom = table.rows[first].bbox[1], table.rows[last - 1].bbox[3]
    x0, top, x1, _ = table.bbox
    words = [word for word in page.extract_words() if x0 <= (word["x0"] + word["x1"]) / 2 <= x1]
    header = [word for word in words if word["top"] >= top and word["bottom"] <= body_top]
    cells = [word for word in words if word["top"] >= body_top and word["bottom"] <= body_bottom]
    right_edges = [max((word["x1"] for word in cells if left <= (word["x0"] + word["x1"]) / 2 < right), default=None) for left, _, right, _ in (column.bbox for column in table.columns)]
    # pdfplumber measures from the media box; PyMuPDF from the crop box, where a page's text starts.
    left, above = page.bbox[0], page.bbox[1]
    region = pymupdf.Rect(x0 - left, top - above, x1 - left, body_bottom - above)
    return LayoutTable(markdown_table([column_names(header, right_edges), *rows[first:last]]), region)


def _body(rows: Sequence[Sequence[str | None]]) -> tuple[int, int] | None:
    """[first, last) of the first run of at least two consecutive rows holding a number."""
    holds = [any(_NUMBER.match(cell or "") for cell in row) for row in rows]
    first = 0
    while first < len(rows):
        if not holds[first]:
            first += 1
            continue
        last = first
        while last < len(rows) and holds[last]:
            last += 1
        if last - first >= 2:
            return first, last
        first = last
    return None


def column_names(words: Sequence[dict], right_edges: Sequence[float | None]) -> list[str]:
    """Column names from a header's words, for columns whose cells end at `right_edges` (None for a
    column with no cells). Numbers are set flush right under a centred name, so the header's last
    line names a column with its last phrase that ends by the column's right edge and after the
    column before it. A line above it names groups of columns: a phrase centred over its group names
    each column whose name is nearer to it than to the line's other phrases, within about a column.

    >>> word = lambda text, x0, x1, top: {"text": text, "x0": x0, "x1": x1, "top": top, "bottom": top + 7}
    >>> header = [word("Pawn", 96, 116, 0), word("State", 0, 20, 9), word("Total", 26, 40, 9), word("Long", 98, 108, 9), word("Gun", 110, 118, 9)]
    >>> column_names(header, [18, 42, None, 120])
    ['State', 'Total', '', 'Pawn Long Gun']
    """
    lines = _phrases_by_line(words)
    names = [[] for _ in right_edges]
    if not lines:
        return ["" for _ in right_edges]
    named: dict[int, tuple[str, float, float]] = {}
    after = float("-inf")
    for index, right in enumerate(right_edges):
        if right is None:
            continue
        # A name may end a character past its numbers.
        fits = [phrase for phrase in lines[-1] if after < phrase[2] <= right + (phrase[2] - phrase[1]) / len(phrase[0]) and phrase not in named.values()]
        if fits:
            named[index] = max(fits, key=lambda phrase: phrase[2])
            names[index].append(named[index][0])
        after = right
    edges = [right for right in right_edges if right is not None]
    reach = 1.25 * statistics.median(b - a for a, b in zip(edges, edges[1:])) if len(edges) > 1 else 0.0
    for line in reversed(lines[:-1]):
        centres = [(x0 + x1) / 2 for _, x0, x1 in line]
        for index, (_, x0, x1) in named.items():
            centre = (x0 + x1) / 2
            nearest = min(range(len(line)), key=lambda at: abs(centres[at] - centre))
            if abs(centres[nearest] - centre) <= reach:
                names[index].insert(0, line[nearest][0])
    return [" ".join(parts) for parts in names]


def _phrases_by_line(words: Sequence[dict]) -> list[list[tuple[str, float, float]]]:
    """Words grouped into lines (top to bottom), and each line's words into phrases: words closer
    to each other than half their height, as "Long" and "Gun" are in a column named "Long Gun"."""
    lines: list[list[dict]] = []
    for word in sorted(words, key=lambda word: (word["top"], word["x0"])):
        height = word["bottom"] - word["top"]
        if lines and abs(lines[-1][0]["top"] - word["top"]) <= height / 2:
            lines[-1].append(word)
        else:
            lines.append([word])
    phrases: list[list[tuple[str, float, float]]] = []
    for line in lines:
        line.sort(key=lambda word: word["x0"])
        merged: list[tuple[str, float, float]] = []
        for word in line:
            height = word["bottom"] - word["top"]
            if merged and word["x0"] - merged[-1][2] <= height / 2:
                text, x0, _ = merged[-1]
                merged[-1] = (f"{text} {word['text']}", x0, word["x1"])
            else:
                merged.append((word["text"], word["x0"], word["x1"]))
        phrases.append(merged)
    return phrases


def _looks_tabular(text: str) -> bool:
    words = text.split()
    if len(words) < TABULAR_MIN_WORDS:
        return False
    return sum(1 for word in words if _NUMBER.match(word)) / len(words) >= TABULAR_NUMBER_SHARE


def read_pdf(data: bytes, options: ReadOptions) -> PdfReader:
    return PdfReader(open_pdf(data), data, options)


def read_image(data: bytes, kind: str, options: ReadOptions) -> PdfReader:
    if options.ocr == "off":
        raise RaglineError(ErrorCode.NO_EXTRACTABLE_TEXT, "an image is read by OCR, which is off here (RAGLINE_OCR=off)")
    return PdfReader(open_image(data, kind, options.max_image_pixels), data, options, image=True)
