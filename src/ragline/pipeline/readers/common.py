"""What every reader shares: its options, whitespace folding, sections under a heading path, and the
limits that keep a hostile file from holding a worker's memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ragline.domain import PageText

HEADING_SEPARATOR = " > "


@dataclass(frozen=True)
class ReadOptions:
    """How to read; the defaults are the settings' (RAGLINE_OCR, RAGLINE_MAX_SHEET_CELLS, ...)."""

    ocr: Literal["auto", "off", "force"] = "auto"
    ocr_languages: str = "eng"
    ocr_dpi: int = 300
    pdf_tables: bool = True
    max_archive_bytes: int = 100 * 1024 * 1024
    max_archive_ratio: int = 200
    max_sheet_cells: int = 2_000_000
    max_image_pixels: int = 100_000_000
    # Rows of a sheet or CSV per section (one citation location).
    rows_per_section: int = 50


def normalize_text(text: str) -> str:
    """Fold layout whitespace (trailing blanks, runs of blank lines) into lines and paragraphs.

    >>> normalize_text("a  b \\n\\n\\n c")
    'a b\\n\\nc'
    """
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


@dataclass
class Sections:
    """Text gathered section by section under the heading path it falls in (DOCX, HTML, Markdown, EPUB).

    >>> sections = Sections()
    >>> sections.heading(1, "Intro"); sections.add("Hello."); sections.heading(2, "Scope"); sections.add("All.")
    >>> [(s.page, s.location) for s in sections.done()]
    [(1, 'Intro'), (2, 'Intro > Scope')]
    """

    prefix: str = ""
    pages: list[PageText] = field(default_factory=list)
    _headings: list[tuple[int, str]] = field(default_factory=list)
    _parts: list[str] = field(default_factory=list)
    # A heading followed by nothing but another heading is no section of its own: it lives on in the path.
    _body: bool = False

    def heading(self, level: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            return
        self.flush()
        self._headings = [(lvl, text) for lvl, text in self._headings if lvl < level] + [(level, title)]
        self._parts.append(title)

    def add(self, text: str) -> None:
        if text.strip():
            self._parts.append(text)
            self._body = True

    @property
    def location(self) -> str:
        path = [self.prefix] if self.prefix else []
        return HEADING_SEPARATOR.join(path + [text for _, text in self._headings])

    def flush(self) -> None:
        text = normalize_text("\n\n".join(self._parts)) if self._body else ""
        self._parts, self._body = [], False
        if text:
            self.pages.append(PageText(page=len(self.pages) + 1, text=text, location=self.location))

    def done(self) -> list[PageText]:
        self.flush()
        return self.pages
