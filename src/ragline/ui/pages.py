"""Pictures of cited pages: a page of a PDF rendered with the cited passage highlighted.

The passage is found by its words, not by string search: a chunk is a stretch of the page's own
text (split never crosses a page), so aligning its words with the page's words marks it exactly,
across line breaks and columns, and tolerates the reference marks an answer leaves out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

import pymupdf

# Yellow marks the retrieved passage; orange, over it, the sentences the answer took from it.
PASSAGE_COLOR = (1.0, 0.9, 0.3)
QUOTE_COLOR = (1.0, 0.55, 0.1)
# Fewer words in a row than this match by chance (articles, "of the"), not because they are the passage.
MIN_RUN_WORDS = 3
# Enough to read the page on a laptop and to zoom on a phone, at ~100-200 kB of PNG per page.
DPI = 110

_REFERENCE_MARK = re.compile(r"\[\d+\]")
_EDGE_PUNCTUATION = "\"'()[]{},.;:!?“”‘’«»"


def render_cited_page(pdf: bytes, page: int, passage: str, quotes: Sequence[str] = (), dpi: int = DPI) -> bytes:
    """A PNG of `page` (1-based) with `passage` highlighted and each of `quotes` highlighted more strongly.

    >>> png = render_cited_page(open("world_population_wikipedia.pdf", "rb").read(), 1, "The median age of human beings")
    >>> png[:4]
    b'\\x89PNG'
    """
    with pymupdf.open(stream=pdf, filetype="pdf") as document:
        sheet = document.load_page(page - 1)
        words = sheet.get_text("words")
        texts = [word[4] for word in words]
        _mark(sheet, words, matched_words(texts, passage), PASSAGE_COLOR)
        for quote in quotes:
            _mark(sheet, words, matched_words(texts, quote), QUOTE_COLOR)
        return sheet.get_pixmap(dpi=dpi).tobytes("png")


def matched_words(page_words: Sequence[str], text: str) -> list[int]:
    """Indexes of the page's words that belong to `text`: runs of at least MIN_RUN_WORDS in order.

    Case, edge punctuation and reference marks such as "[3]" do not count.

    >>> matched_words(["The", "world", "has", "8", "billion", "people.[2]", "Today"], "the world has 8 billion people")
    [0, 1, 2, 3, 4, 5]
    """
    page_keys = [_key(word) for word in page_words]
    wanted = [key for key in (_key(word) for word in text.split()) if key]
    matcher = SequenceMatcher(None, list(page_keys), wanted, autojunk=False)
    min_run = min(MIN_RUN_WORDS, len(wanted))
    return [
        block.a + offset
        for block in matcher.get_matching_blocks()
        if block.size >= min_run > 0
        for offset in range(block.size)
        if page_keys[block.a + offset]
    ]


def _key(word: str) -> str:
    return _REFERENCE_MARK.sub("", word).strip(_EDGE_PUNCTUATION).casefold()


def _mark(page: pymupdf.Page, words: Sequence[tuple], indexes: list[int], color: tuple[float, float, float]) -> None:
    """One highlight over the matched words, with one rectangle per line they sit on."""
    lines: dict[tuple[int, int], pymupdf.Rect] = {}
    for index in indexes:
        x0, y0, x1, y1, _, block, line, _ = words[index]
        rect = pymupdf.Rect(x0, y0, x1, y1)
        lines[(block, line)] = lines[(block, line)] | rect if (block, line) in lines else rect
    if not lines:
        return
    annotation = page.add_highlight_annot(list(lines.values()))
    annotation.set_colors(stroke=color)
    annotation.update()
