"""Ingest throughput: the running service vs the same pipeline code in one process, in one run.

    .venv/bin/python bench/ingest.py [--pdf samples/pdfs/art_of_public_speaking_gutenberg.pdf]

Starts a local stack (Redis, Chroma, workers, API) on free ports, then ingests the document
  1. through the service: HTTP upload until the job is `done` (queue, Redis hand-offs, worker);
  2. in-process: extract -> split -> embed -> upsert with the same functions, no queue,
     into another collection of the same Chroma server, with the model already loaded
     (as it is in a warm worker).
Prints pages/s and chunks/s for both and their ratio (target at this stage: >= 0.8).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragline.config import Settings  # noqa: E402
from ragline.localstack import LocalStack, StackPorts, free_port  # noqa: E402
from ragline.pipeline.extract import iter_pages, open_pdf, require_text  # noqa: E402
from ragline.pipeline.index import index_chunks  # noqa: E402
from ragline.pipeline.split import split_pages  # noqa: E402
from ragline.providers.embeddings import create_embedder  # noqa: E402
from ragline.stores.vectors import ChunkRecord, VectorIndex  # noqa: E402
from tests.conftest import upload, wait_for_job  # noqa: E402

DEFAULT_PDF = REPO / "samples" / "pdfs" / "art_of_public_speaking_gutenberg.pdf"


def ingest_in_process(pdf: Path, chroma_url: str, collection: str) -> tuple[float, int, int]:
    """The service's own steps, called directly. Returns (seconds, pages, chunks)."""
    settings = Settings(chroma_url=chroma_url)
    embedder = create_embedder(settings)
    embedder.embed_documents(["warm-up"])
    index = VectorIndex(chroma_url)
    started = time.perf_counter()
    data = pdf.read_bytes()
    document_id = hashlib.sha256(data).hexdigest()
    pages = list(iter_pages(open_pdf(data)))
    require_text(pages)
    chunks = split_pages(pages, settings.chunk_size, settings.chunk_overlap)
    index_chunks(
        chunks,
        embed=embedder.embed_documents,
        store=lambda batch, vectors: index.upsert(
            collection, embedder.name, [ChunkRecord.of(document_id, pdf.name, c) for c in batch], vectors
        ),
        batch_size=settings.embedding_batch_size,
    )
    return time.perf_counter() - started, len(pages), len(chunks)


def ingest_through_service(pdf: Path, api_url: str, collection: str) -> tuple[float, int, int]:
    """Upload to `done`, as a client sees it. Returns (seconds, pages, chunks)."""
    with httpx.Client(base_url=api_url, timeout=120) as api:
        started = time.perf_counter()
        response = upload(api, collection, pdf.name, pdf.read_bytes())
        response.raise_for_status()
        job = wait_for_job(api, response.json()["job_id"], timeout=3600)
        elapsed = time.perf_counter() - started
    if job["state"] != "done":
        raise SystemExit(f"service ingest failed: {job['error']}")
    return elapsed, job["progress"]["pages_total"], job["progress"]["chunks_total"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    args = parser.parse_args()

    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, log=log) as stack:
            service = ingest_through_service(args.pdf, stack.api_url, "bench-service")
            in_process = ingest_in_process(args.pdf, stack.chroma_url, "bench-in-process")

    print(f"document: {args.pdf.name}")
    print(f"{'path':<12} {'seconds':>8} {'pages':>6} {'chunks':>7} {'pages/s':>8} {'chunks/s':>9}")
    for name, (seconds, pages, chunks) in (("service", service), ("in-process", in_process)):
        print(f"{name:<12} {seconds:8.1f} {pages:6d} {chunks:7d} {pages / seconds:8.2f} {chunks / seconds:9.2f}")
    print(f"service / in-process throughput: {in_process[0] / service[0]:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
