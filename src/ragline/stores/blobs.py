"""Where bytes that outlive a task live: originals of indexed documents, lexical index segments, exports.

Redis holds pointers and small state only; its memory is bounded and shared with the broker. A blob store
is a flat namespace of keys ("files/{collection}/{document_id}") to immutable byte strings, backed by a
folder (local mode; a PersistentVolumeClaim in a cluster) or by an S3-compatible bucket
(RAGLINE_BLOB_STORE picks one; `create_blob_store` builds it from settings).

    store = FilesystemBlobStore(Path("data/blobs"))
    store.put("files/c/abc", b"%PDF-...")
    assert store.get("files/c/abc") == b"%PDF-..."

The S3 backend uses boto3, AWS's own SDK: the reference S3 client, and the one that knows every way a pod
gets AWS credentials (AWS_* variables, shared config files, IRSA web identity, ECS and EC2 metadata), with
retries in its "standard" mode. Any S3-compatible store (SeaweedFS, MinIO, Ceph RGW, R2, GCS's XML API)
works through RAGLINE_S3_ENDPOINT_URL.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ragline.config import Settings
from ragline.errors import ErrorCode, RaglineError
from ragline.stores.health import BLOBS, DependencyDown

# Ref: botocore's retry modes (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html):
# "standard" retries throttling and transient errors with jittered backoff, 3 attempts in all.
S3_MAX_ATTEMPTS = 3
S3_CONNECT_TIMEOUT_SECONDS = 5.0
# Seconds a request refused because the store is away is told to wait: after botocore's own retries.
RETRY_AFTER_SECONDS = 10

logger = logging.getLogger(__name__)


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there; readers see the old or the new bytes, never part."""

    def get(self, key: str) -> bytes | None:
        """The bytes under `key`, or None when there are none."""

    def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key that starts with `prefix` (for maintenance commands, never on a request path)."""

    def state(self) -> str:
        """"ok" if the store can be written now, else why not: the readiness probe's check (stores/health.py)."""


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

    def state(self) -> str:
        """The folder exists (created if missing, as a first write would) and takes a file."""
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self._root, prefix=".tmp-probe-"):
                pass
        except OSError as exc:
            return f"not writable: {self._root}: {exc.strerror or exc}"
        return "ok"

    def keys(self, prefix: str) -> Iterator[str]:
        if not self._root.is_dir():
            return
        for path in sorted(self._root.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self._root).as_posix()
                if key.startswith(prefix):
                    yield key


class S3BlobStore:
    """Blobs as objects of one bucket of any S3-compatible store, under an optional key prefix.

    A PUT replaces an object whole, so readers see the old or the new bytes, never part.
    """

    def __init__(self, client, bucket: str, prefix: str = "") -> None:  # noqa: ANN001 - a boto3 S3 client
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def put(self, key: str, data: bytes) -> None:
        _check_key(key)
        with _unavailable_as_error():
            self._client.put_object(Bucket=self._bucket, Key=self._prefix + key, Body=data)

    def get(self, key: str) -> bytes | None:
        _check_key(key)
        with _unavailable_as_error():
            try:
                return self._client.get_object(Bucket=self._bucket, Key=self._prefix + key)["Body"].read()
            except self._client.exceptions.NoSuchKey:
                return None

    def delete(self, key: str) -> None:
        _check_key(key)
        with _unavailable_as_error():
            self._client.delete_object(Bucket=self._bucket, Key=self._prefix + key)

    def state(self) -> str:
        """HeadBucket: the cheapest request that proves the endpoint, the bucket and the credentials."""
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return f"refused: bucket {self._bucket!r}: {error.get('Code', 'error')} {error.get('Message') or ''}".rstrip()
        except BotoCoreError as exc:
            return f"unreachable: {exc}"
        return "ok"

    def keys(self, prefix: str) -> Iterator[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix + prefix)
        with _unavailable_as_error():
            for page in pages:
                for item in page.get("Contents", ()):
                    yield item["Key"].removeprefix(self._prefix)


@contextmanager
def _unavailable_as_error() -> Iterator[None]:
    """A store that cannot be reached or refuses the request is a dependency failure: 503, logged with its reason.
    In the API, a store the readiness probe found down is not called at all (the BLOBS breaker)."""
    try:
        BLOBS.check()
    except DependencyDown as exc:
        raise RaglineError(ErrorCode.DEPENDENCY_UNAVAILABLE, f"the blob store is unavailable ({exc.reason})", retry_after=RETRY_AFTER_SECONDS) from exc
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        logger.warning("blob store refused a request code=%s error=%s", code, exc)
        raise RaglineError(ErrorCode.DEPENDENCY_UNAVAILABLE, f"the blob store refused the request ({code})", retry_after=RETRY_AFTER_SECONDS) from exc
    except BotoCoreError as exc:
        logger.warning("blob store unreachable error=%s", exc)
        raise RaglineError(ErrorCode.DEPENDENCY_UNAVAILABLE, "the blob store is unreachable", retry_after=RETRY_AFTER_SECONDS) from exc


def create_blob_store(settings: Settings) -> BlobStore:
    """The blob store RAGLINE_BLOB_STORE names, configured from settings."""
    if settings.blob_store == "filesystem":
        return FilesystemBlobStore(settings.blob_path)
    secret = settings.s3_secret_access_key
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        # None: boto3's own chain (AWS_* variables, shared config, IRSA web identity, instance metadata).
        aws_access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(
            s3={"addressing_style": settings.s3_addressing_style},
            connect_timeout=S3_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.s3_timeout_seconds,
            retries={"mode": "standard", "max_attempts": S3_MAX_ATTEMPTS},
        ),
    )
    return S3BlobStore(client, settings.s3_bucket or "", settings.s3_prefix)
