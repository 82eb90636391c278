"""Pictures of cited pages: a page of a PDF rendered with the cited passage highlighted, or, for a
document without page images (Word, slides, sheets, web pages, text), the passage itself drawn as a
card with the answer's sentences highlighted.

The passage is found by its words, not by string search: a chunk is a stretch of the page's own
text (split never crosses a page), so aligning its words with the page's words marks it exactly,
across line breaks and columns, and tolerates the reference marks an answer leaves out.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import select
import struct
import subprocess
import sys
import threading
import time
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
# A PDF page may declare any size (a 200-inch MediaBox is 22,000 px a side at DPI): the zoom shrinks
# so width x height stays under this, about a 2,000 x 2,000 picture (16 MB of RGB while drawing).
MAX_PIXELS = 4_000_000
# A page's content stream may be built to draw for minutes; the render is given up after this.
RENDER_TIMEOUT_SECONDS = 15.0
# Address space of the process that renders: a hostile page's allocations fail there, not the UI's.
RENDER_MEMORY_BYTES = 2 * 1024**3
# Python and PyMuPDF loading in the renderer process (~0.4 s alone, seconds on a loaded machine).
START_TIMEOUT_SECONDS = 60.0

_REFERENCE_MARK = re.compile(r"\[\d+\]")
_EDGE_PUNCTUATION = "\"'()[]{},.;:!?“”‘’«»"


class RenderFailed(Exception):
    """The page could not be drawn: broken, hostile, too slow or too hungry."""


def render_cited_page(
    pdf: bytes, page: int, passages: Sequence[str], quotes: Sequence[str] = (), dpi: int = DPI, timeout: float = RENDER_TIMEOUT_SECONDS
) -> bytes:
    """A PNG of `page` (1-based) with each of `passages` highlighted and each of `quotes` highlighted more strongly.

    The PDF is an upload, so it is drawn in a child process bounded in time and memory, at a zoom
    bounded in pixels; a page that cannot be drawn gives a picture that says so instead of an error.

    >>> png = render_cited_page(open("world_population_wikipedia.pdf", "rb").read(), 1, ["The median age of human beings"])
    >>> png[:4]
    b'\\x89PNG'
    """
    try:
        return _RENDERER.render({"page": page, "passages": list(passages), "quotes": list(quotes), "dpi": dpi}, pdf, timeout)
    except RenderFailed as exc:
        return notice_png(f"Page {page} of this document cannot be shown: {exc}")


# A passage card: a column a phone can read, as long as the passage needs (chunks are ~1,000 characters).
CARD_WIDTH = 460
CARD_MAX_HEIGHT = 2400
CARD_MARGIN = 16


def render_passage(title: str, passage: str, quotes: Sequence[str] = ()) -> bytes:
    """A PNG of `title` over `passage`, each of `quotes` highlighted where the card shows it.

    Drawn from the citation's text in this process (no uploaded file is parsed here).

    >>> render_passage("a.docx, Methods", "The median age is 31 years.", ["The median age is 31 years."])[:4]
    b'\x89PNG'
    """
    with pymupdf.open() as document:
        card = document.new_page(width=CARD_WIDTH, height=CARD_MAX_HEIGHT)
        box = pymupdf.Rect(CARD_MARGIN, CARD_MARGIN, CARD_WIDTH - CARD_MARGIN, CARD_MAX_HEIGHT - CARD_MARGIN)
        # The title may wrap: the passage starts below however many lines it took.
        title_left = card.insert_textbox(box, title, fontsize=11, fontname="helv")
        body = box + (0, box.height - title_left + 8, 0, 0)
        left = card.insert_textbox(body, passage, fontsize=10, fontname="helv")
        # insert_textbox answers the height left unused (negative: the text did not fit and was cut).
        used = body.y1 - max(left, 0) + CARD_MARGIN
        words = card.get_text("words")
        texts = [word[4] for word in words]
        for quote in quotes:
            _mark(card, words, matched_words(texts, quote), QUOTE_COLOR)
        card.set_cropbox(pymupdf.Rect(0, 0, CARD_WIDTH, min(used, CARD_MAX_HEIGHT)))
        return card.get_pixmap(dpi=DPI).tobytes("png")


def notice_png(text: str) -> bytes:
    """A small picture of `text`, shown where a page could not be."""
    with pymupdf.open() as document:
        sheet = document.new_page(width=420, height=90)
        sheet.insert_textbox(pymupdf.Rect(14, 14, 406, 80), text, fontsize=11)
        return sheet.get_pixmap(dpi=DPI).tobytes("png")


def _render(pdf: bytes, page: int, passages: Sequence[str], quotes: Sequence[str], dpi: int) -> bytes:
    with pymupdf.open(stream=pdf, filetype="pdf") as document:
        if not 1 <= page <= document.page_count:
            raise RenderFailed(f"the document has no page {page}")
        sheet = document.load_page(page - 1)
        words = sheet.get_text("words")
        texts = [word[4] for word in words]
        for passage in passages:
            _mark(sheet, words, matched_words(texts, passage), PASSAGE_COLOR)
        for quote in quotes:
            _mark(sheet, words, matched_words(texts, quote), QUOTE_COLOR)
        return sheet.get_pixmap(matrix=pymupdf.Matrix(*[bounded_zoom(sheet.rect, dpi)] * 2)).tobytes("png")


def bounded_zoom(rect: pymupdf.Rect, dpi: int, max_pixels: int = MAX_PIXELS) -> float:
    """The zoom of `dpi`, smaller if need be so that the page's picture has at most `max_pixels`.

    >>> bounded_zoom(pymupdf.Rect(0, 0, 612, 792), 72)
    1.0
    >>> round(bounded_zoom(pymupdf.Rect(0, 0, 14400, 14400), 110) * 14400)
    2000
    """
    zoom = dpi / 72
    pixels = abs(rect.width * rect.height) * zoom * zoom
    return zoom * math.sqrt(max_pixels / pixels) if pixels > max_pixels else zoom


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


# pymupdf imports its optional layout analysis (pymupdf4llm, ~1 s) whenever it is installed; a page
# render never uses it.
_CHILD = "import sys; sys.modules['pymupdf.layout'] = None; from ragline.ui.pages import _serve; _serve()"
_REQUEST = struct.Struct(">II")
_REPLY = struct.Struct(">?I")
_READY = b"R"


class _Renderer:
    """One renderer process, started on first use and reused (a start costs ~0.4 s of imports), killed
    and started afresh whenever a render overruns its time or the process dies. Renders take turns."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def render(self, request: dict, pdf: bytes, timeout: float) -> bytes:
        with self._lock:
            try:
                process = self._started()
                # The render's own time: the process's start and imports are not the page's fault.
                deadline = time.monotonic() + timeout
                header = json.dumps(request).encode()
                process.stdin.write(_REQUEST.pack(len(header), len(pdf)) + header + pdf)  # type: ignore[union-attr]
                process.stdin.flush()  # type: ignore[union-attr]
                ok, size = _REPLY.unpack(self._read(_REPLY.size, deadline))
                payload = self._read(size, deadline)
            except (OSError, EOFError) as exc:
                self._stop()
                raise RenderFailed("the renderer stopped (out of memory or crashed)") from exc
            except TimeoutError as exc:
                self._stop()
                raise RenderFailed(f"drawing it took longer than {timeout:g} s") from exc
        if not ok:
            raise RenderFailed(payload.decode(errors="replace"))
        return payload

    def _started(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            try:
                self._read(len(_READY), time.monotonic() + START_TIMEOUT_SECONDS)
            except TimeoutError as exc:
                raise EOFError("the renderer did not start") from exc
        return self._process

    def _read(self, size: int, deadline: float) -> bytes:
        stdout = self._process.stdout  # type: ignore[union-attr]
        data = bytearray()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stdout], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(stdout.fileno(), size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return bytes(data)

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for pipe in (self._process.stdin, self._process.stdout):
                pipe.close()  # type: ignore[union-attr]
            self._process = None


_RENDERER = _Renderer()


def _serve() -> None:
    """The renderer process: requests on stdin, replies on stdout, until stdin closes."""
    resource.setrlimit(resource.RLIMIT_AS, (RENDER_MEMORY_BYTES, RENDER_MEMORY_BYTES))
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    replies.write(_READY)
    replies.flush()
    while head := requests.read(_REQUEST.size):
        header_size, pdf_size = _REQUEST.unpack(head)
        request, pdf = json.loads(requests.read(header_size)), requests.read(pdf_size)
        try:
            ok, payload = True, _render(pdf, request["page"], request["passages"], request["quotes"], request["dpi"])
        except Exception as exc:  # noqa: BLE001 - the parent shows the reason
            ok, payload = False, (str(exc) if isinstance(exc, RenderFailed) else f"{type(exc).__name__}: {exc}").encode()
        replies.write(_REPLY.pack(ok, len(payload)) + payload)
        replies.flush()
