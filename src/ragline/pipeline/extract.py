"""Read the text of a PDF page by page with PyMuPDF. Pages are numbered from 1, as a reader counts them."""

from __future__ import annotations

from collections.abc import Iterator

import pymupdf

from ragline.domain import PageText
from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.sniff import looks_like_pdf

# get_text("blocks") tuples: (x0, y0, x1, y1, text, block number, block type); type 1 is an image.
_TEXT_BLOCK = 0


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


def iter_pages(document: pymupdf.Document, first_page: int = 1, last_page: int | None = None) -> Iterator[PageText]:
    """Yield the text of pages first_page..last_page (1-based, inclusive), one page in memory at a time.

    Each of the page's text blocks (a paragraph, heading, caption or table, as PyMuPDF lays them out)
    is a paragraph of its own: a sentence never runs on into the heading or caption that follows it,
    and the splitter cuts chunks between blocks first.
    """
    last = document.page_count if last_page is None else min(last_page, document.page_count)
    for number in range(first_page, last + 1):
        yield PageText(page=number, text=page_text(document.load_page(number - 1)))


def page_text(page: pymupdf.Page) -> str:
    """The page's text blocks in reading order, separated by blank lines (see normalize_text)."""
    blocks = page.get_text("blocks")
    return normalize_text("\n\n".join(block[4] for block in blocks if block[6] == _TEXT_BLOCK))


def normalize_text(text: str) -> str:
    """Fold the layout whitespace PDF extraction leaves (trailing blanks, runs of blank lines)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def require_text(pages: list[PageText]) -> None:
    """A document that yields no text at all cannot be searched: report it instead of indexing nothing."""
    if not any(page.text for page in pages):
        raise RaglineError(
            ErrorCode.NO_EXTRACTABLE_TEXT,
            "no extractable text on any page (a scanned document needs OCR, which this service does not run)",
        )
