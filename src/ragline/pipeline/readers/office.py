"""Word (python-docx) and PowerPoint (python-pptx) files.

Both libraries parse the package's XML with lxml and `resolve_entities=False`, so an entity in a
hostile part is never expanded; the package's size is checked before either opens it (archives.py).
"""

from __future__ import annotations

import io
import re

import docx
import pptx
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from ragline.pipeline.readers.common import ReadOptions, Sections, normalize_text
from ragline.domain import PageText
from ragline.pipeline.tables import markdown_table

_HEADING_STYLE = re.compile(r"^Heading (\d)$")


def read_docx(data: bytes, options: ReadOptions) -> list[PageText]:
    """The document's paragraphs and tables in reading order, one section per heading (its path the location)."""
    document = docx.Document(io.BytesIO(data))
    sections = Sections()
    for item in document.iter_inner_content():
        if isinstance(item, DocxTable):
            sections.add(markdown_table([[cell.text for cell in row.cells] for row in item.rows]))
            continue
        level = _heading_level(item)
        if level is None:
            sections.add(item.text)
        else:
            sections.heading(level, item.text)
    return sections.done()


def _heading_level(paragraph: Paragraph) -> int | None:
    name = paragraph.style.name if paragraph.style is not None else ""
    if name == "Title":
        return 0
    match = _HEADING_STYLE.match(name or "")
    return int(match.group(1)) if match else None


def read_pptx(data: bytes, options: ReadOptions) -> list[PageText]:
    """One page per slide (its number the page): title, text frames, tables, then the speaker notes."""
    presentation = pptx.Presentation(io.BytesIO(data))
    pages = []
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None and title_shape.has_text_frame else ""
        parts = [_shape_text(shape) for shape in slide.shapes]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            parts.append(slide.notes_slide.notes_text_frame.text)
        text = "\n\n".join(normalize_text(part) if not part.startswith("|") else part for part in parts if part.strip())
        pages.append(PageText(page=number, text=text, location=f"slide {number}: {title}" if title else f"slide {number}"))
    return pages


def _shape_text(shape: object) -> str:
    if getattr(shape, "has_table", False):
        return markdown_table([[cell.text for cell in row.cells] for row in shape.table.rows])  # type: ignore[attr-defined]
    if getattr(shape, "shape_type", None) == pptx.enum.shapes.MSO_SHAPE_TYPE.GROUP:
        return "\n\n".join(_shape_text(child) for child in shape.shapes)  # type: ignore[attr-defined]
    if getattr(shape, "has_text_frame", False):
        return shape.text_frame.text  # type: ignore[attr-defined]
    return ""
