"""Writes to a store on a background thread, so the model embeds the next batch while the last one is sent.

Chroma's server and the embedding model each use a core: run one after the other, each waits on the
other (bench/ingest.py shows the gain). The queue is bounded, so a slow store holds the embedder back
instead of letting vectors pile up in memory.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class BackgroundWriter(Generic[T]):
    """Calls `write(item)` for each submitted item, in order, on one thread.

        with BackgroundWriter(lambda batch: index.upsert(collection, model, *batch)) as writer:
            for batch in batches:
                writer.submit((records, embed(batch)))

    Leaving the block waits until every item is written and re-raises the first error of `write`;
    `submit` raises it as soon as it is known, so the producer stops early. The thread runs in a copy of
    the caller's context: spans it opens are children of the caller's current span.
    """

    def __init__(self, write: Callable[[T], None], depth: int = 2) -> None:
        self._write = write
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._drain,), name="background-writer", daemon=True
        )

    def __enter__(self) -> BackgroundWriter[T]:
        self._thread.start()
        return self

    def submit(self, item: T) -> None:
        self._raise_if_failed()
        self._queue.put(item)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if exc is None:
            self._raise_if_failed()

    def _drain(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            if self._error is not None:
                continue  # keep taking items so a blocked submit returns and sees the error
            try:
                self._write(item)  # type: ignore[arg-type]
            except BaseException as exc:  # noqa: BLE001 - handed to the producer's thread
                self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
