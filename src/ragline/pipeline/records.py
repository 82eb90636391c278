"""What ingest hands from step to step: plain data, shared by the pipeline and the stores, so the
API process can read and write them without the PDF and text libraries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageText:
    page: int
    text: str


@dataclass(frozen=True)
class Chunk:
    page: int
    index: int
    text: str


def chunk_id(document_id: str, chunk: Chunk) -> str:
    """Deterministic, so a retried or re-delivered step overwrites instead of duplicating."""
    return f"{document_id}:{chunk.page}:{chunk.index}"
