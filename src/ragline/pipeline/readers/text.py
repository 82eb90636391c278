"""Markdown (markdown-it-py finds the headings; each section keeps its source text, tables included)
and plain text (sections of lines, located as "lines 101-200")."""

from __future__ import annotations

from markdown_it import MarkdownIt

from ragline.pipeline.readers.common import ReadOptions, Sections, normalize_text
from ragline.domain import PageText

LINES_PER_SECTION = 100


def read_markdown(data: bytes, options: ReadOptions) -> list[PageText]:
    source = data.decode("utf-8-sig")
    lines = source.splitlines()
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    sections = Sections()
    start = 0
    for position, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        first, after = token.map
        sections.add("\n".join(lines[start:first]))
        sections.heading(int(token.tag[1:]), tokens[position + 1].content)
        start = after
    sections.add("\n".join(lines[start:]))
    return sections.done()


def read_text(data: bytes, options: ReadOptions) -> list[PageText]:
    lines = data.decode("utf-8-sig").splitlines()
    pages = []
    for first in range(0, len(lines), LINES_PER_SECTION):
        text = normalize_text("\n".join(lines[first : first + LINES_PER_SECTION]))
        if text:
            last = min(first + LINES_PER_SECTION, len(lines))
            pages.append(PageText(page=len(pages) + 1, text=text, location=f"lines {first + 1}-{last}"))
    return pages
