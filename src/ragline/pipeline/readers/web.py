"""HTML (BeautifulSoup over lxml's HTML parser) and EPUB (ebooklib, each spine document read as HTML).

Scripts, styles and embedded objects are dropped unread; nothing is ever fetched (neither parser
loads a URL: links, images and stylesheets stay text in the tree) or executed. Headings give each
section its heading path; tables become Markdown tables.
"""

from __future__ import annotations

import io
import warnings

import ebooklib
from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from bs4.element import Tag
from ebooklib import epub

from ragline.pipeline.readers.common import ReadOptions, Sections
from ragline.domain import PageText
from ragline.pipeline.tables import markdown_table

DROPPED = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "head", "form", "nav")
BLOCKS = (
    "p", "div", "li", "tr", "pre", "blockquote", "section", "article", "header", "footer", "aside", "main",
    "dt", "dd", "figcaption", "caption", "ul", "ol", "dl", "address", "hr",
)  # fmt: skip
HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Marks a heading line inside the flattened text (a private-use character: no real text holds it).
HEADING_MARK = "\ue000"


def read_html(data: bytes, options: ReadOptions) -> list[PageText]:
    sections = Sections()
    _add_html(data, sections)
    return sections.done()


def read_epub(data: bytes, options: ReadOptions) -> list[PageText]:
    """The spine's documents in reading order, one section per heading, as one book."""
    book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    sections = Sections()
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
            _add_html(item.get_content(), sections)
    return sections.done()


def _add_html(data: bytes, sections: Sections) -> None:
    with warnings.catch_warnings():
        # XHTML (EPUB chapters, some pages) is read with the HTML parser on purpose: it forgives broken
        # markup and never expands a DTD's entities, where an XML parser would.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(data, "lxml")
    for tag in soup.find_all(DROPPED):
        tag.decompose()
    # Inner tables first, so an outer table's cells read the inner ones as text.
    for table in reversed(soup.find_all("table")):
        rows = [[cell.get_text(" ", strip=True) for cell in row.find_all(("th", "td"))] for row in table.find_all("tr")]
        table.replace_with(f"\n\n{markdown_table(rows)}\n\n")
    for tag in soup.find_all(list(HEADINGS)):
        tag.replace_with(f"\n{HEADING_MARK}{HEADINGS[tag.name]} {tag.get_text(' ', strip=True)}\n")
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all(BLOCKS):
        if isinstance(tag, Tag):
            tag.append("\n")
    body: list[str] = []
    for line in soup.get_text().split("\n"):
        if line.startswith(HEADING_MARK):
            sections.add("\n".join(body))
            body = []
            level, _, title = line[1:].partition(" ")
            sections.heading(int(level), title)
        else:
            body.append(line)
    sections.add("\n".join(body))
