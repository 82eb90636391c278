"""The plain data every layer shares: pages, chunks, passages, filters, job states, document records,
and the shapes of the model calls. No I/O and no third-party imports, so the stores, the pipeline,
the providers and the API process can all use them without pulling in each other's libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

# ---- ingest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageText:
    """One page of a paged document (a PDF page, a slide, an image frame), or one section of another
    (a heading's text, a block of sheet rows), numbered from 1 in reading order.

    `location` says where it is in words a reader can follow where a page number alone cannot:
    "slide 3: Results", "sheet Sales, rows 2-51", "Methods > Sampling". `ocr`: read by OCR.
    """

    page: int
    text: str
    location: str = ""
    ocr: bool = False


@dataclass(frozen=True)
class Chunk:
    page: int
    index: int
    text: str
    location: str = ""


def chunk_id(document_id: str, chunk: Chunk) -> str:
    """Deterministic, so a retried or re-delivered step overwrites instead of duplicating."""
    return f"{document_id}:{chunk.page}:{chunk.index}"


JobState = Literal["queued", "running", "done", "failed"]
ACTIVE_STATES = ("queued", "running")
# ingest: one uploaded document; import: a collection filled from an archive.
JobKind = Literal["ingest", "import"]


@dataclass
class DocumentRecord:
    document_id: str
    filename: str
    job_id: str
    state: JobState = "queued"
    pages: int = 0
    chunks: int = 0
    # Of the uploaded file; records written before quotas existed read as 0.
    size_bytes: int = 0
    # What the upload is (sniff.Format's value); records written before other formats read as pdf.
    format: str = "pdf"


# ---- retrieval -------------------------------------------------------------------------------

RetrievalMode = Literal["vector", "hybrid"]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its similarity to the question (cosine, higher is closer)."""

    chunk_id: str
    document_id: str
    filename: str
    page: int
    text: str
    score: float
    # Where in a document without pages (or beyond the page): "slide 3: Results", "sheet Sales, rows 2-51".
    location: str = ""

    @property
    def place(self) -> str:
        """Where the passage is, as a reader would look for it: its location, or else its page."""
        return self.location or f"page {self.page}"


@dataclass(frozen=True)
class LexicalEntry:
    chunk_id: str
    document_id: str
    page: int
    text: str


@dataclass(frozen=True)
class PassageFilter:
    """Keep chunks of these documents (none: all) on pages within any of these inclusive ranges (none: all)."""

    document_ids: tuple[str, ...] = ()
    page_ranges: tuple[tuple[int, int], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.document_ids or self.page_ranges)

    def matches(self, document_id: str, page: int) -> bool:
        if self.document_ids and document_id not in self.document_ids:
            return False
        return not self.page_ranges or any(first <= page <= last for first, last in self.page_ranges)


# ---- models ----------------------------------------------------------------------------------


class Embedder(Protocol):
    """Turns texts into unit-length vectors. `name` is what a collection records."""

    name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


# (role, content) pairs, as a chat model receives them.
Messages = list[tuple[str, str]]


class GenerationFailed(Exception):
    """No usable generated answer. `reason`: timeout, unavailable, error or uncited."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
