"""Rendering a cited page: the passage is found by its words and highlighted where it is on the page."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from ragline.pipeline.extract import read_pages
from ragline.pipeline.split import split_pages
from ragline.ui.pages import DPI, MAX_PIXELS, PASSAGE_COLOR, QUOTE_COLOR, matched_words, notice_png, render_cited_page, render_passage
from tests.pdfs import pdf_of

pytestmark = pytest.mark.unit

WORLD = "world_population_wikipedia.pdf"


@pytest.fixture(scope="module")
def world(samples: Path) -> bytes:
    return (samples / WORLD).read_bytes()


@pytest.fixture(scope="module")
def first_page_chunks(world: bytes) -> list[str]:
    """Page 1's chunks exactly as the ingest pipeline cuts them."""
    pages = read_pages(world)[:1]
    return [chunk.text for chunk in split_pages(pages)]


def _highlighted_rows(png: bytes) -> np.ndarray:
    """Pixel rows (in PDF points from the top) where the highlight colour shows."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([round(channel * 255) for channel in PASSAGE_COLOR])
    yellow = (np.abs(pixels - target) < 40).all(axis=2)
    rows = np.flatnonzero(yellow.sum(axis=1) > 20)
    return rows * 72 / DPI


def test_every_word_of_a_chunk_is_found_and_no_other(world: bytes, first_page_chunks: list[str]) -> None:
    with pymupdf.open(stream=world, filetype="pdf") as document:
        words = document[0].get_text("words")
    chunk = first_page_chunks[1]
    found = matched_words([word[4] for word in words], chunk)
    assert len(found) >= 0.95 * len(chunk.split())
    # One stretch of the page, in order: a chunk is contiguous text.
    assert found == list(range(found[0], found[-1] + 1))
    assert len(found) < 0.5 * len(words)


def test_the_highlight_sits_on_the_cited_passage(world: bytes, first_page_chunks: list[str]) -> None:
    plain = _highlighted_rows(render_cited_page(world, 1, []))
    assert plain.size == 0
    with pymupdf.open(stream=world, filetype="pdf") as document:
        hits = document[0].search_for("The median age of human beings as of 2020 is 31 years.")
    chunk = next(text for text in first_page_chunks if "median age of human beings" in text)
    rows = _highlighted_rows(render_cited_page(world, 1, [chunk]))
    assert rows.size > 0
    assert rows.min() - 5 <= hits[0].y0 and hits[-1].y1 <= rows.max() + 5
    # The page's title, far above the passage, is not highlighted.
    assert rows.min() > 150


def test_a_quoted_sentence_is_marked_more_strongly_than_its_passage(world: bytes, first_page_chunks: list[str]) -> None:
    chunk = next(text for text in first_page_chunks if "median age of human beings" in text)
    passage_only = np.asarray(Image.open(io.BytesIO(render_cited_page(world, 1, [chunk]))).convert("RGB"))
    quoted = np.asarray(
        Image.open(io.BytesIO(render_cited_page(world, 1, [chunk], ["The median age of human beings as of 2020 is 31 years."]))).convert("RGB")
    )
    changed_rows = np.flatnonzero((passage_only != quoted).any(axis=(1, 2))) * 72 / DPI
    with pymupdf.open(stream=world, filetype="pdf") as document:
        [sentence] = document[0].search_for("The median age of human beings as of 2020 is 31 years.")
    assert changed_rows.size > 0
    assert sentence.y0 - 3 <= changed_rows.min() and changed_rows.max() <= sentence.y1 + 3


def test_text_that_is_not_on_the_page_highlights_nothing(world: bytes) -> None:
    assert _highlighted_rows(render_cited_page(world, 2, ["Completely unrelated words about sourdough bread baking"])).size == 0



# ---- hostile PDFs: a page is drawn bounded in pixels and time, and a failure is a picture that says so ----


def _stream(dictionary: bytes, content: bytes) -> bytes:
    return b"<<%s/Length %d>>\nstream\n%s\nendstream" % (dictionary, len(content), content)


def _page_pdf(media_box: bytes, content: bytes, resources: bytes = b"<<>>", extra: list[bytes] = ()) -> bytes:
    return pdf_of(
        [
            b"<</Type/Catalog/Pages 2 0 R>>",
            b"<</Type/Pages/Count 1/Kids[3 0 R]>>",
            b"<</Type/Page/Parent 2 0 R/MediaBox[%s]/Resources %s/Contents 4 0 R>>" % (media_box, resources),
            _stream(b"", content),
            *extra,
        ]
    )


def _size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def _is_notice(png: bytes) -> bool:
    """The picture of a message, not of a page: the notice's own size."""
    return _size(png) == _size(notice_png("x"))


def test_a_giant_page_is_drawn_within_the_pixel_bound() -> None:
    # 200 x 200 inches: 22,000 pixels a side at the UI's DPI, 484 million in all without the bound.
    png = render_cited_page(_page_pdf(b"0 0 14400 14400", b"0 0 1 rg 0 0 7200 7200 re f"), 1, [])
    width, height = _size(png)
    assert width * height <= MAX_PIXELS
    assert min(width, height) > 1000, "shrunk to the bound, not to nothing"
    assert not _is_notice(png)


@pytest.mark.parametrize(
    ("pdf", "page"),
    [
        (b"%PDF-1.7\nnot really a PDF at all", 1),
        (_page_pdf(b"0 0 612 792", b"BT /F1 12 Tf (hello) Tj ET"), 7),
    ],
    ids=["garbage", "no-such-page"],
)
def test_an_unusable_page_gives_a_picture_saying_so(pdf: bytes, page: int) -> None:
    assert _is_notice(render_cited_page(pdf, page, ["hello"]))


def test_a_page_that_draws_forever_is_given_up_and_the_next_one_is_drawn(world: bytes) -> None:
    # Ten form XObjects, each drawing the next ten times: 10^10 rectangles for one page ("billion laughs").
    depth = 10
    forms = []
    for level in range(depth):
        if level + 1 < depth:
            body, resources = b"/X Do " * 10, b"/Resources<</XObject<</X %d 0 R>>>>" % (6 + level)
        else:
            body, resources = b"0 0 1 1 re f", b""
        forms.append(_stream(b"/Type/XObject/Subtype/Form/BBox[0 0 612 792]" + resources, body))
    slow = _page_pdf(b"0 0 612 792", b"/X Do", b"<</XObject<</X 5 0 R>>>>", forms)
    assert _is_notice(render_cited_page(slow, 1, [], timeout=2.0))
    assert not _is_notice(render_cited_page(world, 1, ["The median age of human beings"]))


def test_a_passage_card_shows_the_passage_with_the_quote_highlighted() -> None:
    passage = "| State | Permit |\n| --- | --- |\n| Georgia | 14,111 |\n" + "Checks are counted when a dealer calls. " * 8
    png = render_passage("[1] checks.docx, Appendix", passage, ["Checks are counted when a dealer calls."])
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    quote = np.array([round(255 * c) for c in QUOTE_COLOR])
    assert (np.abs(image - quote).sum(axis=2) < 60).any()
    # Cropped to the text: a short passage gives a short card.
    assert image.shape[0] < 600
