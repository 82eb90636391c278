"""Read an upload of any accepted format into numbered pages (or sections), behind one interface.

A PDF or an image is read page by page (OCR where a page needs it, possibly in page ranges spread
over several tasks); every other format is read whole into sections, each bounded before parsing
(ZIP packages by their directory, sheets by a cell cap). Anything a parser chokes on is a
RaglineError with a reason, never a crash of the worker.

>>> reader = open_document(b"# Title\\n\\nHello.", Format.MARKDOWN)
>>> [(page.page, page.location, page.text) for page in reader.iter_pages()]
[(1, 'Title', 'Title\\n\\nHello.')]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Protocol

from ragline.domain import PageText
from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.readers.archives import check_archive
from ragline.pipeline.readers.common import ReadOptions, normalize_text
from ragline.pipeline.readers.office import read_docx, read_pptx
from ragline.pipeline.readers.pdf import open_pdf, read_image, read_pdf
from ragline.pipeline.readers.sheets import read_csv, read_xlsx
from ragline.pipeline.readers.text import read_markdown, read_text
from ragline.pipeline.readers.web import read_epub, read_html
from ragline.pipeline.sniff import Format

__all__ = ["DocumentReader", "PageText", "ReadOptions", "normalize_text", "open_document", "open_pdf", "read_pages", "require_text"]

logger = logging.getLogger(__name__)

_SECTION_READERS: dict[Format, Callable[[bytes, ReadOptions], list[PageText]]] = {
    Format.DOCX: read_docx,
    Format.PPTX: read_pptx,
    Format.XLSX: read_xlsx,
    Format.CSV: read_csv,
    Format.HTML: read_html,
    Format.MARKDOWN: read_markdown,
    Format.TEXT: read_text,
    Format.EPUB: read_epub,
}
_PACKAGES = frozenset({Format.DOCX, Format.PPTX, Format.XLSX, Format.EPUB})



class DocumentReader(Protocol):
    """What ingest needs of a document, whatever its format."""

    paged: bool

    @property
    def page_count(self) -> int: ...

    def needs_ocr(self, number: int) -> bool: ...

    def iter_pages(self, first_page: int = 1, last_page: int | None = None) -> Iterator[PageText]: ...

    def read_page(self, number: int, ocr: bool) -> PageText: ...

    def close(self) -> None: ...


class SectionReader:
    """A document already read whole into its sections (every format but PDF and images)."""

    paged = False

    def __init__(self, pages: list[PageText], paged: bool = False) -> None:
        self._pages = pages
        self.paged = paged

    @property
    def page_count(self) -> int:
        return len(self._pages)

    def needs_ocr(self, number: int) -> bool:
        return False

    def iter_pages(self, first_page: int = 1, last_page: int | None = None) -> Iterator[PageText]:
        yield from self._pages[first_page - 1 : last_page]

    def read_page(self, number: int, ocr: bool) -> PageText:
        return self._pages[number - 1]

    def close(self) -> None:
        self._pages = []


def open_document(data: bytes, kind: Format, options: ReadOptions = ReadOptions()) -> DocumentReader:
    """A reader of `data`, which holds a document of format `kind` (as sniff.detect_format found)."""
    if kind is Format.PDF:
        return read_pdf(data, options)
    if kind in (Format.PNG, Format.JPEG, Format.TIFF):
        return read_image(data, kind.value, options)
    if kind in _PACKAGES:
        check_archive(data, options.max_archive_bytes, options.max_archive_ratio)
    try:
        pages = _SECTION_READERS[kind](data, options)
    except RaglineError:
        raise
    except MemoryError as exc:
        raise RaglineError(ErrorCode.DOCUMENT_TOO_LARGE, f"the {kind.value} file needs more memory than this worker has") from exc
    except Exception as exc:  # noqa: BLE001 - each parser has its own errors for a damaged file; all mean the same here
        logger.info("unreadable document format=%s error=%s: %s", kind.value, type(exc).__name__, exc)
        raise RaglineError(ErrorCode.MALFORMED_DOCUMENT, f"the {kind.value} file cannot be read: {type(exc).__name__}: {exc}") from exc
    return SectionReader(pages, paged=kind.paged)


def read_pages(data: bytes, kind: Format = Format.PDF, options: ReadOptions = ReadOptions()) -> list[PageText]:
    """Every page (or section) of a document at once, for tools and benchmarks that need no progress."""
    reader = open_document(data, kind, options)
    try:
        return list(reader.iter_pages())
    finally:
        reader.close()


def require_text(pages: list[PageText]) -> None:
    """A document that yields no text at all cannot be searched: report it instead of indexing nothing."""
    if not any(page.text for page in pages):
        raise RaglineError(
            ErrorCode.NO_EXTRACTABLE_TEXT,
            "no extractable text on any page (a scanned page with OCR off, or a document without words)",
        )
