"""A collection out of one deployment's stores into a portable archive, and back into another's.

Export reads one document at a time (its original, then its chunks in batches of BATCH_CHUNKS with
their stored vectors) and yields the archive as it goes: memory holds one original or one batch.
An uploaded archive is staged in the blob store in parts of STAGED_PART_BYTES (a blob is written
whole, and the API and the ingest workers share the blob store, not a disk), then read back as one
stream, twice: once to verify everything, once to write.

    export = CollectionExport.of(stores, "public__atlas")
    with open("atlas.tar", "wb") as out:
        for piece in export.stream():
            out.write(piece)
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from ragline.errors import ErrorCode, RaglineError
from ragline.stores import archive
from ragline.stores.archive import ArchivedChunk, ArchivedDocument, ArchiveHeader, ArchiveWriter, Batch, Manifest, Original
from ragline.stores.bundle import Stores
from ragline.domain import DocumentRecord
from ragline.stores.vectors import StoredChunks
from ragline.tenancy import display

logger = logging.getLogger(__name__)

# Large enough that a multi-gigabyte archive is a few hundred blobs, small enough to hold in memory.
STAGED_PART_BYTES = 8 * 1024 * 1024


def staged_part_key(job_id: str, number: int) -> str:
    """One part of an uploaded archive, until its import ends."""
    return f"imports/{job_id}/{number:06d}"


# ---- export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionExport:
    stores: Stores
    collection: str
    header: ArchiveHeader
    records: tuple[DocumentRecord, ...]

    @classmethod
    def of(cls, stores: Stores, collection: str) -> CollectionExport:
        """What an export of the collection will hold: its indexed documents (those still ingesting
        or failed are left out), refused at once when there are none."""
        records = tuple(record for record in stores.documents.list(collection) if record.state == "done")
        embedding = stores.index.embedding_of(collection) if records else None
        if embedding is None:
            raise RaglineError(ErrorCode.NOT_FOUND, f"collection '{display(collection)}' has no indexed documents to export")
        header = ArchiveHeader(
            embedding_model=embedding[0],
            embedding_dimension=embedding[1],
            collection=display(collection),
            document_count=len(records),
            chunk_count=sum(record.chunks for record in records),
            page_count=sum(record.pages for record in records),
        )
        return cls(stores, collection, header, records)

    def stream(self) -> Iterator[bytes]:
        """The archive, piece by piece. A document deleted while it streams breaks the stream before
        the manifest, so the partial archive can never be imported."""
        writer = ArchiveWriter(self.header)
        yield writer.start()
        for record in self.records:
            ids = sorted(self.stores.index.chunk_ids(self.collection, record.document_id), key=_chunk_order)
            if len(ids) != record.chunks:
                raise RaglineError(
                    ErrorCode.DOCUMENT_BUSY, f"document {record.document_id} changed while the collection was exported; export again"
                )
            data = self.stores.artifacts.get_file(self.collection, record.document_id)
            if data is not None:
                yield writer.original(record.document_id, data)
            else:
                # Its upload expired before its ingest ended: it answers questions, but has no file to serve.
                logger.warning("exporting a document without its original collection=%s document_id=%s", self.collection, record.document_id)
            for start in range(0, len(ids), archive.BATCH_CHUNKS):
                batch = ids[start : start + archive.BATCH_CHUNKS]
                stored = self.stores.index.read_chunks(self.collection, batch)
                if len(stored.ids) != len(batch):
                    raise RaglineError(ErrorCode.DOCUMENT_BUSY, f"document {record.document_id} changed while it was exported; export again")
                chunks = [ArchivedChunk(*fields) for fields in zip(stored.ids, stored.texts, stored.metadatas, strict=True)]
                yield writer.batch(record.document_id, chunks, stored.vectors)
        yield writer.finish(
            [ArchivedDocument(r.document_id, r.filename, r.pages, r.chunks, r.size_bytes) for r in self.records]
        )
        logger.info("collection exported collection=%s documents=%s chunks=%s", self.collection, len(self.records), self.header.chunk_count)


def _chunk_order(chunk_id: str) -> tuple:
    """Ids are `{document}:{page}:{n}`: by page, then by position on the page, as they were ingested."""
    _, page, number = chunk_id.rsplit(":", 2)
    return int(page), int(number)


# ---- import -----------------------------------------------------------------------------------


class StagedArchive(io.RawIOBase):
    """The staged parts of an uploaded archive, read in order as one stream, one part in memory."""

    def __init__(self, stores: Stores, job_id: str) -> None:
        self._blobs = stores.blobs
        self._job_id = job_id
        self._number = 0
        self._part = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._part:
            data = self._blobs.get(staged_part_key(self._job_id, self._number))
            if data is None:
                return 0
            self._number += 1
            self._part = memoryview(data)
        count = min(len(buffer), len(self._part))
        buffer[:count] = self._part[:count]
        self._part = self._part[count:]
        return count

    def reader(self) -> io.BufferedReader:
        return io.BufferedReader(self, buffer_size=1024 * 1024)


def stage_part(stores: Stores, job_id: str, number: int, data: bytes) -> None:
    stores.blobs.put(staged_part_key(job_id, number), data)


def discard_staged(stores: Stores, job_id: str) -> None:
    """Remove an upload's parts (they are numbered from 0 without gaps)."""
    number = 0
    while stores.blobs.get(staged_part_key(job_id, number)) is not None:
        stores.blobs.delete(staged_part_key(job_id, number))
        number += 1


def verify_staged(stores: Stores, job_id: str, collection: str, model: str, on_chunks: archive.ChunkCounter) -> Manifest:
    """The staged archive's manifest once every member checked out; nothing is written."""
    stores.index.check_model(collection, model)
    with StagedArchive(stores, job_id).reader() as stream:
        return archive.verify(
            stream, model, dimension=expected_dimension(stores, collection), on_chunks=on_chunks,
            max_original_bytes=stores.settings.max_upload_bytes,
        )


def expected_dimension(stores: Stores, collection: str) -> int | None:
    """The length an archive's vectors must have here: the collection's, or else the configured model's."""
    recorded = stores.index.embedding_of(collection)
    return recorded[1] if recorded else stores.settings.embedding_dimension


def records_of(manifest: Manifest, job_id: str) -> list[DocumentRecord]:
    return [
        DocumentRecord(d.document_id, d.filename, job_id, state="running", pages=d.pages, chunks=d.chunks, size_bytes=d.size_bytes)
        for d in manifest.documents
    ]


def write_staged(stores: Stores, job_id: str, collection: str, manifest: Manifest, on_chunks: archive.ChunkCounter) -> None:
    """Write the verified archive's originals and chunks (ids, text, metadata, vectors) as they were."""
    model = manifest.header.embedding_model
    with StagedArchive(stores, job_id).reader() as stream:
        for entry in archive.entries(stream, manifest):
            if isinstance(entry, Original):
                stores.artifacts.put_file(collection, entry.document_id, entry.data)
            elif isinstance(entry, Batch):
                chunks = StoredChunks(
                    ids=tuple(c.id for c in entry.chunks), texts=tuple(c.text for c in entry.chunks),
                    metadatas=tuple(c.metadata for c in entry.chunks), vectors=entry.vectors,
                )
                stores.index.restore(collection, model, chunks)
                on_chunks(len(chunks.ids))


def finish_import(stores: Stores, job_id: str, collection: str, manifest: Manifest) -> None:
    """Every document is written: they answer questions from now on, and the staged archive goes."""
    for document in manifest.documents:
        stores.documents.update(collection, document.document_id, state="done")
    stores.documents.bump_generation(collection)
    discard_staged(stores, job_id)
    stores.jobs.update(job_id, pages_done=manifest.header.page_count)
    stores.jobs.finish(job_id)
    logger.info(
        "import done job_id=%s collection=%s documents=%s chunks=%s",
        job_id, collection, len(manifest.documents), manifest.header.chunk_count,
    )


def release_imported(stores: Stores, job_id: str, collection: str) -> list[str]:
    """Forget the documents an import claimed (refunding the tenant) and their originals; return their
    ids, whose chunks the caller removes (a vector store that is away must not stop the rest)."""
    claimed = [record.document_id for record in stores.documents.list(collection) if record.job_id == job_id]
    for document_id in claimed:
        stores.artifacts.delete_file(collection, document_id)
        stores.documents.remove(collection, document_id, job_id=job_id)
    if claimed:
        stores.documents.bump_generation(collection)
    return claimed
