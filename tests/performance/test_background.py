"""BackgroundWriter: order, back-pressure, errors and span context across its thread."""

from __future__ import annotations

import contextvars
import threading

import pytest

from ragline.stores.background import BackgroundWriter

pytestmark = pytest.mark.unit

current = contextvars.ContextVar("current", default="none")


def test_items_are_written_in_order_off_the_callers_thread() -> None:
    written: list[tuple[int, str]] = []
    with BackgroundWriter(lambda item: written.append((item, threading.current_thread().name))) as writer:
        for item in range(10):
            writer.submit(item)
    assert [item for item, _ in written] == list(range(10))
    assert {name for _, name in written} == {"background-writer"}


def test_the_writer_sees_the_callers_context() -> None:
    """So the spans it opens (Chroma upserts) are children of the span that started it."""
    seen: list[str] = []
    token = current.set("index-span")
    try:
        with BackgroundWriter(lambda _: seen.append(current.get())) as writer:
            writer.submit(1)
    finally:
        current.reset(token)
    assert seen == ["index-span"]


def test_a_write_error_stops_the_producer_and_is_raised_on_its_thread() -> None:
    class StoreDown(Exception):
        pass

    def write(item: int) -> None:
        if item == 2:
            raise StoreDown(item)

    submitted = []
    with pytest.raises(StoreDown), BackgroundWriter(write, depth=1) as writer:
        for item in range(1000):
            writer.submit(item)
            submitted.append(item)
    assert len(submitted) < 1000


def test_the_queue_holds_at_most_depth_items() -> None:
    release = threading.Event()
    with BackgroundWriter(lambda _: release.wait(), depth=2) as writer:
        writer.submit(0)  # taken by the thread, blocked in write
        blocked = threading.Thread(target=lambda: [writer.submit(n) for n in (1, 2, 3)])
        blocked.start()
        blocked.join(timeout=0.5)
        assert blocked.is_alive(), "a third queued item must wait for the writer"
        release.set()
        blocked.join(timeout=5)
