"""Originals that releases before the blob store kept in Redis (`ragline:file:{collection}:{document_id}`),
moved to the blob store: by every API process at its start, in the background, and by `ragline migrate-files`.

Safe with any number of processes at once: a file is claimed with a short lock, written to the blob store,
and only then deleted from Redis, so a crash at any point loses nothing (the next run moves it again, with
the same bytes). Until a file is moved, ArtifactStore.get_file still finds it in Redis, so nothing waits
for a move to finish.

    report = move_legacy_files(redis.Redis(), FilesystemBlobStore(Path("data/blobs")))
    print(report.moved, report.bytes)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from ragline.stores import keys
from ragline.stores.blobs import BlobStore, file_key

logger = logging.getLogger(__name__)

# Longer than one file's copy to the slowest store: 50 MiB at well under 1 MiB/s.
LOCK_SECONDS = 300
SCAN_BATCH = 500


@dataclass
class MoveReport:
    moved: int = 0
    bytes: int = 0
    # Being moved by another process at the same moment, or gone meanwhile (moved or deleted).
    skipped: int = 0


def move_legacy_files(client: redis.Redis, blobs: BlobStore) -> MoveReport:
    """Move every original still in Redis to the blob store; returns what this call moved."""
    report = MoveReport()
    prefix = keys.DOCUMENT_FILE_PREFIX
    for raw in client.scan_iter(match=prefix + "*", count=SCAN_BATCH):
        redis_key = raw.decode()
        collection, _, document_id = redis_key.removeprefix(prefix).rpartition(":")
        lock = keys.file_move_lock(collection, document_id)
        if not client.set(lock, "1", nx=True, ex=LOCK_SECONDS):
            report.skipped += 1
            continue
        try:
            data = client.get(redis_key)
            if data is None:
                report.skipped += 1
                continue
            blobs.put(file_key(collection, document_id), data)
            if not client.delete(redis_key):
                # Deleted with its document while being copied: its copy must not outlive it.
                blobs.delete(file_key(collection, document_id))
                report.skipped += 1
                continue
        finally:
            client.delete(lock)
        report.moved += 1
        report.bytes += len(data)
    return report


def move_legacy_files_logged(client: redis.Redis, blobs: BlobStore) -> None:
    """`move_legacy_files` for a process's start: the outcome is logged, a failure too (the next start, or
    `ragline migrate-files`, tries again; meanwhile the files are still read from Redis)."""
    try:
        report = move_legacy_files(client, blobs)
    except Exception:  # noqa: BLE001 - a start must not fail for a move that can be retried
        logger.exception("moving originals from Redis to the blob store failed; they are still served from Redis")
        return
    if report.moved or report.skipped:
        logger.info("moved originals from Redis to the blob store moved=%s bytes=%s skipped=%s", report.moved, report.bytes, report.skipped)
