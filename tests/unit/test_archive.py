"""The collection archive format (stores/archive.py): what it writes reads back, and anything amiss is refused."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np
import pytest

from ragline.errors import ErrorCode, RaglineError
from ragline.stores.archive import (
    FORMAT_VERSION,
    HEADER_NAME,
    MANIFEST_NAME,
    ArchivedChunk,
    ArchivedDocument,
    ArchiveHeader,
    ArchiveWriter,
    Batch,
    Original,
    entries,
    read_header,
    verify,
)
from tests.archives import archive_members, rebuild_archive

MODEL = "local:all-MiniLM-L6-v2"
DIMENSION = 4
DOC_A = "a" * 64
DOC_B = "b" * 64

pytestmark = pytest.mark.unit


def _chunks(document_id: str, pages: range) -> list[ArchivedChunk]:
    return [
        ArchivedChunk(f"{document_id}:{page}:0", f"text of page {page} of {document_id[:4]}", {"document_id": document_id, "filename": "x.pdf", "page": page, "chunk": 0})
        for page in pages
    ]


def _vectors(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)


def _archive(model: str = MODEL) -> bytes:
    """Two documents: A in two batches (3 + 2 chunks), B in one (1 chunk)."""
    header = ArchiveHeader(embedding_model=model, embedding_dimension=DIMENSION, collection="src", document_count=2, chunk_count=6, page_count=7)
    writer = ArchiveWriter(header)
    out = writer.start()
    out += writer.original(DOC_A, b"%PDF-A" * 100)
    out += writer.batch(DOC_A, _chunks(DOC_A, range(1, 4)), _vectors(3, 1))
    out += writer.batch(DOC_A, _chunks(DOC_A, range(4, 6)), _vectors(2, 2))
    out += writer.original(DOC_B, b"%PDF-B")
    out += writer.batch(DOC_B, _chunks(DOC_B, range(1, 2)), _vectors(1, 3))
    out += writer.finish([ArchivedDocument(DOC_A, "a.pdf", 5, 5, 600), ArchivedDocument(DOC_B, "b.pdf", 2, 1, 6)])
    return out


def _refused(archive: bytes, code: ErrorCode = ErrorCode.INVALID_ARCHIVE, model: str = MODEL) -> str:
    with pytest.raises(RaglineError) as caught:
        verify(io.BytesIO(archive), model)
    assert caught.value.code is code, caught.value.detail
    return caught.value.detail


def test_written_archive_verifies_and_reads_back_every_entry_in_order() -> None:
    archive = _archive()
    counted: list[int] = []
    manifest = verify(io.BytesIO(archive), MODEL, DIMENSION, on_chunks=counted.append)
    assert [d.document_id for d in manifest.documents] == [DOC_A, DOC_B]
    assert counted == [3, 2, 1]
    assert manifest.header.format_version == FORMAT_VERSION and manifest.header.chunk_count == 6

    read = list(entries(io.BytesIO(archive), manifest))
    assert [type(entry) for entry in read] == [Original, Batch, Batch, Original, Batch]
    first = read[1]
    assert isinstance(first, Batch)
    assert [c.id for c in first.chunks] == [f"{DOC_A}:{p}:0" for p in (1, 2, 3)]
    assert first.chunks[0].metadata == {"document_id": DOC_A, "filename": "x.pdf", "page": 1, "chunk": 0}
    # Bit for bit: an import must not re-embed, nor round the vectors.
    assert first.vectors.dtype == np.dtype("<f4") and np.array_equal(first.vectors, _vectors(3, 1))
    assert read[3] == Original(DOC_B, b"%PDF-B")


def test_header_is_readable_from_the_first_bytes_alone() -> None:
    header = read_header(_archive()[:4096])
    assert (header.embedding_model, header.embedding_dimension, header.document_count) == (MODEL, DIMENSION, 2)


def test_another_embedding_model_or_dimension_is_refused() -> None:
    detail = _refused(_archive(model="openai:text-embedding-3-small"), ErrorCode.EMBEDDING_MODEL_MISMATCH)
    assert "openai:text-embedding-3-small" in detail and MODEL in detail
    with pytest.raises(RaglineError) as caught:
        verify(io.BytesIO(_archive()), MODEL, dimension=384)
    assert caught.value.code is ErrorCode.EMBEDDING_MODEL_MISMATCH


def test_a_newer_format_version_is_refused_by_header_and_by_verify() -> None:
    members = archive_members(_archive())
    for name in (HEADER_NAME, MANIFEST_NAME):
        raw = json.loads(members[name])
        members[name] = json.dumps({**raw, "format_version": FORMAT_VERSION + 1, "a_field_of_the_future": 1}).encode()
    archive = rebuild_archive(members)
    assert "upgrade ragline" in _refused(archive, ErrorCode.UNSUPPORTED_ARCHIVE_VERSION)
    with pytest.raises(RaglineError) as caught:
        read_header(archive[:4096])
    assert caught.value.code is ErrorCode.UNSUPPORTED_ARCHIVE_VERSION


@pytest.mark.parametrize(
    "cut",
    [
        lambda archive: len(archive) * 3 // 10,
        lambda archive: len(archive) * 6 // 10,
        lambda archive: archive.rindex(b'"members"'),
        # The manifest's data ends with its members object (only zero padding follows): one byte short.
        lambda archive: archive.rindex(b"}}}") + 2,
    ],
    ids=["at 30%", "at 60%", "inside the manifest", "at the manifest's last byte"],
)
def test_a_truncated_archive_is_refused(cut: Callable[[bytes], int]) -> None:
    archive = _archive()
    _refused(archive[: cut(archive)])


def test_a_tampered_member_is_refused_by_its_checksum() -> None:
    members = archive_members(_archive())
    name = f"documents/{DOC_A}/chunks-0001.jsonl"
    members[name] = members[name].replace(b"text of page 4", b"TEXT OF PAGE 4")
    assert "checksum" in _refused(rebuild_archive(members, refresh_manifest=False))


def test_a_removed_batch_is_refused_even_with_a_consistent_manifest() -> None:
    members = archive_members(_archive())
    del members[f"documents/{DOC_A}/chunks-0001.jsonl"], members[f"documents/{DOC_A}/vectors-0001.npy"]
    assert "does not count" in _refused(rebuild_archive(members))


def test_a_removed_member_the_manifest_still_lists_is_refused() -> None:
    members = archive_members(_archive())
    del members[f"documents/{DOC_B}/original"]
    assert "missing" in _refused(rebuild_archive(members, refresh_manifest=False))


def test_a_document_may_come_without_its_original() -> None:
    """One its deployment never kept (the upload expired before its ingest ended): chunks only."""
    members = archive_members(_archive())
    del members[f"documents/{DOC_B}/original"]
    archive = rebuild_archive(members)
    manifest = verify(io.BytesIO(archive), MODEL)
    assert [type(entry) for entry in entries(io.BytesIO(archive), manifest)] == [Original, Batch, Batch, Batch]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("../../etc/passwd", b"x"),
        (f"documents/{DOC_A}/extra.txt", b"x"),
        (f"documents/{DOC_A}/chunks-0009.jsonl", json.dumps({"id": f"{DOC_B}:1:0", "text": "t", "metadata": {"document_id": DOC_B, "page": 1}}).encode()),
    ],
)
def test_unexpected_or_foreign_members_are_refused(name: str, data: bytes) -> None:
    members = archive_members(_archive())
    manifest = members.pop(MANIFEST_NAME)
    members[name] = data
    members[MANIFEST_NAME] = manifest
    _refused(rebuild_archive(members))


def test_vectors_of_the_wrong_shape_or_type_are_refused() -> None:
    members = archive_members(_archive())
    array = io.BytesIO()
    np.save(array, _vectors(1, 3).astype(np.float64))
    members[f"documents/{DOC_B}/vectors-0000.npy"] = array.getvalue()
    assert "float32" in _refused(rebuild_archive(members))


def test_records_that_miscount_their_chunks_are_refused() -> None:
    members = archive_members(_archive())
    manifest = json.loads(members[MANIFEST_NAME])
    manifest["documents"][1]["chunks"] = 2
    members[MANIFEST_NAME] = json.dumps(manifest).encode()
    _refused(rebuild_archive(members))


def test_something_else_entirely_is_refused() -> None:
    _refused(b"%PDF-1.7 not an archive" * 100)
    _refused(b"")
