"""Peak RSS of the ingest worker on the 467-page book and on a generated 2,000-page document, in one run.

    .venv/bin/python bench/memory.py [--pages 2000] [--runtime onnx-int8|torch]

Starts a local stack, loads the worker's model with a one-page warm-up, then ingests each document and
samples the resident memory of the ingest worker's pool process every 50 ms. Prints the peak, the growth
over the warmed-up worker, and the growth per 1,000 pages: a worker that streams page ranges grows by
the same amount for both. The generated document is the book repeated: its vectors come from the
embedding cache, which keeps the run short and changes nothing of what the worker holds (all pages,
all chunks, one batch of vectors at a time).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import psutil
import pymupdf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import DEFAULT_PDFS, ingest_through_service, warm_up  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.localstack import LocalStack, StackPorts, free_port  # noqa: E402

MB = 1024 * 1024


def long_document(source: Path, pages: int) -> bytes:
    book = pymupdf.open(source)
    document = pymupdf.open()
    while document.page_count < pages:
        document.insert_pdf(book, to_page=min(book.page_count, pages - document.page_count) - 1)
    return document.tobytes(garbage=3, deflate=True)


class PeakRss:
    """Samples the largest RSS of a process's children (the Celery pool process), or of the process
    itself with `children=False` (the API), while running."""

    def __init__(self, parent: psutil.Process, children: bool = True) -> None:
        self._parent = parent
        self._children = children
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def current(self) -> int:
        if not self._children:
            return self._parent.memory_info().rss
        return max((child.memory_info().rss for child in self._parent.children(recursive=True)), default=0)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self.current())
            except psutil.NoSuchProcess:
                continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", choices=("onnx-int8", "torch"), default="onnx-int8", help="local embedding runtime")
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    book = DEFAULT_PDFS[0]
    documents = [(book.name, book.read_bytes()), (f"generated-{args.pages}-pages.pdf", long_document(book, args.pages))]

    # The stack inherits this environment; Settings() in this process reads it too.
    os.environ["RAGLINE_LOCAL_EMBEDDING_RUNTIME"] = args.runtime
    os.environ["RAGLINE_MODEL_CACHE_DIR"] = str(Settings().model_cache_path.resolve())
    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    rows = []
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, log=log) as stack, httpx.Client(base_url=stack.api_url, timeout=120) as api:
            worker = next(service for service in stack.services if service.name == "ingest-worker")
            warm_up(api)
            baseline = PeakRss(psutil.Process(worker.process.pid)).current()  # type: ignore[union-attr]
            for name, data in documents:
                with PeakRss(psutil.Process(worker.process.pid)) as peak:  # type: ignore[union-attr]
                    run = ingest_through_service(api, "memory", name, data)
                rows.append((name, run, peak.peak))

    print(f"ingest worker pool process, warmed up (model loaded): {baseline / MB:.0f} MB")
    print(f"{'document':<36} {'pages':>6} {'chunks':>7} {'seconds':>8} {'peak MB':>8} {'growth MB':>10} {'MB/1000 pages':>14}")
    for name, run, peak in rows:
        growth = (peak - baseline) / MB
        print(f"{name:<36} {run.pages:6d} {run.chunks:7d} {run.seconds:8.1f} {peak / MB:8.0f} {growth:10.0f} {1000 * growth / run.pages:14.1f}")
    small, large = rows[0][2] - baseline, rows[1][2] - baseline
    print(f"growth on {rows[1][1].pages} pages / growth on {rows[0][1].pages} pages: {large / max(small, 1):.2f} "
          f"(streaming would keep it near 1.0)")


if __name__ == "__main__":
    main()
