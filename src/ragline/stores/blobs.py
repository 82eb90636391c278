"""Where bytes that outlive a task live: originals of indexed documents, lexical index segments, exports.

Redis holds pointers and small state only; its memory is bounded and shared with the broker. A blob store
is a flat namespace of keys ("files/{collection}/{document_id}") to immutable byte strings, backed by a
folder (local mode; a PersistentVolumeClaim in a cluster) or by an S3-compatible bucket.

    store = FilesystemBlobStore(Path("data/blobs"))
    store.put("files/c/abc", b"%PDF-...")
    assert store.get("files/c/abc") == b"%PDF-..."
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there; readers see the old or the new bytes, never part."""

    def get(self, key: str) -> bytes | None:
        """The bytes under `key`, or None when there are none."""

    def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key that starts with `prefix` (for maintenance commands, never on a request path)."""


def file_key(collection: str, document_id: str) -> str:
    """The original upload of one indexed document."""
    return f"files/{collection}/{document_id}"


def _check_key(key: str) -> None:
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid blob key {key!r}")


class FilesystemBlobStore:
    """Blobs as files under one folder; writes go to a temporary file renamed into place (atomic on POSIX)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self._root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> Iterator[str]:
        if not self._root.is_dir():
            return
        for path in sorted(self._root.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self._root).as_posix()
                if key.startswith(prefix):
                    yield key
