"""Export and import of a collection: time, archive size and the memory it takes, in one run.

    .venv/bin/python bench/archive.py [--copies 4]

Starts a local stack, ingests the 467-page book into one collection (cold embedding cache: what a new
deployment would pay to rebuild the collection from its PDFs), and --copies edited copies of it into
another (their vectors come from the cache, which keeps the run short), then exports each collection
over HTTP and imports the archive into a new collection. Samples the resident memory of the API
process during each export and of the ingest worker's pool process during each import: both hold one
document (or one batch of 1,000 chunks) at a time, so their growth stays about the same for a
collection several times larger. Prints the import / cold-ingest time ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import DEFAULT_PDFS, Run, edited_copy, ingest_through_service, warm_up  # noqa: E402
from bench.memory import MB, PeakRss  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.localstack import LocalStack, StackPorts, free_port  # noqa: E402
from tests.conftest import wait_for_job  # noqa: E402


def export(api: httpx.Client, collection: str, path: Path) -> float:
    started = time.perf_counter()
    with api.stream("GET", f"/v1/collections/{collection}/export") as response, path.open("wb") as out:
        response.raise_for_status()
        for piece in response.iter_bytes():
            out.write(piece)
    return time.perf_counter() - started


def import_archive(api: httpx.Client, collection: str, path: Path) -> float:
    started = time.perf_counter()
    with path.open("rb") as handle:
        response = api.post(f"/v1/collections/{collection}/import", files={"file": (path.name, handle, "application/x-tar")})
    response.raise_for_status()
    job = wait_for_job(api, response.json()["job_id"], timeout=3600)
    if job["state"] != "done":
        raise SystemExit(f"import failed: {job['error']}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4, help="edited copies of the book in the larger collection")
    args = parser.parse_args()
    book = DEFAULT_PDFS[0]
    data = book.read_bytes()
    copies = [(f"copy-{n}-{book.name}", edited_copy(data, f"Copy {n} of the book.")) for n in range(args.copies)]
    collections = {"book": [(book.name, data)], "books": copies}
    os.environ["RAGLINE_MODEL_CACHE_DIR"] = str(Settings().model_cache_path.resolve())
    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    rows: list[tuple[str, Run, int, float, int, float, int]] = []
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, log=log) as stack, httpx.Client(base_url=stack.api_url, timeout=600) as api:
            api_process = psutil.Process(stack.service("api").process.pid)  # type: ignore[union-attr]
            worker = psutil.Process(stack.service("ingest-worker").process.pid)  # type: ignore[union-attr]
            warm_up(api)
            # Export and import once before measuring: the first use loads code and opens connections.
            first = Path(data_dir) / "warm-up.ragline.tar"
            export(api, "bench-warm-up", first)
            import_archive(api, "bench-warm-up-copy", first)
            for collection, documents in collections.items():
                runs = [ingest_through_service(api, collection, name, pdf) for name, pdf in documents]
                ingested = Run(sum(r.seconds for r in runs), sum(r.pages for r in runs), sum(r.chunks for r in runs))
                archive = Path(data_dir) / f"{collection}.ragline.tar"
                api_before = api_process.memory_info().rss
                with PeakRss(api_process, children=False) as api_peak:
                    export_seconds = export(api, collection, archive)
                worker_before = PeakRss(worker).current()
                with PeakRss(worker) as worker_peak:
                    import_seconds = import_archive(api, f"{collection}-copy", archive)
                rows.append((collection, ingested, archive.stat().st_size, export_seconds, api_peak.peak - api_before,
                             import_seconds, worker_peak.peak - worker_before))

    print(f"{'collection':<10} {'pages':>6} {'chunks':>7} {'ingest s':>9} {'archive MB':>11} {'export s':>9} "
          f"{'API +MB':>8} {'import s':>9} {'worker +MB':>11}")
    for collection, ingested, size, export_seconds, api_growth, import_seconds, worker_growth in rows:
        print(f"{collection:<10} {ingested.pages:6d} {ingested.chunks:7d} {ingested.seconds:9.1f} {size / MB:11.1f} "
              f"{export_seconds:9.1f} {api_growth / MB:8.1f} {import_seconds:9.1f} {worker_growth / MB:11.1f}")
    book_row, big_row = rows
    print(f"book: cold ingest / import (upload to done): {book_row[1].seconds / book_row[5]:.1f}x")
    print(f"growth for {big_row[1].chunks / book_row[1].chunks:.1f}x the chunks (documents of the same size): API during export "
          f"{big_row[4] / max(book_row[4], MB):.2f}x, ingest worker during import {big_row[6] / max(book_row[6], MB):.2f}x "
          "(bounded memory keeps both near 1)")


if __name__ == "__main__":
    main()
