"""How long another tenant's one-page upload waits while a 467-page book is being embedded, with one
ingest process: page ranges sent a few at a time (RAGLINE_INGEST_PARTS_IN_FLIGHT, the default) against
all at once (0, as a Celery chord sent them before). A fresh local stack per setting.

    python bench/fairness.py [--in-flight 4 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragline.localstack import LocalStack  # noqa: E402
from tests.conftest import SAMPLES, free_ports  # noqa: E402
from tests.performance.fairness import PAGES_PER_PART, small_upload_during_book, stack_env  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[4, 0])
    args = parser.parse_args()
    rows = []
    for in_flight in args.in_flight:
        with tempfile.TemporaryDirectory() as folder, (Path(folder) / "stack.log").open("w") as log:
            env = stack_env(ingest_parts_in_flight=in_flight)
            with LocalStack(Path(folder), ports=free_ports(), with_flower=False, ingest_processes=1, extra_env=env, log=log) as stack:
                outcome = small_upload_during_book(stack, SAMPLES)
        book = outcome.book_job["finished_at"] - outcome.book_job["created_at"]
        rows.append((in_flight, outcome.small_wait, book, outcome.small_first, outcome.book_queued))
    print(f"one ingest process, the book in ranges of {PAGES_PER_PART} pages, the small upload sent once the book is being embedded")
    print(f"{'parts in flight':>16} {'small: queued -> done':>22} {'book: queued -> done':>21} {'small first':>12} {'book tasks queued':>18}")
    for in_flight, small, book, first, queued in rows:
        label = "all (0)" if in_flight == 0 else str(in_flight)
        print(f"{label:>16} {small:>20.1f} s {book:>19.1f} s {str(first):>12} {queued:>18}")


if __name__ == "__main__":
    main()
