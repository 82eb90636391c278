"""The portable archive of one collection: a tar stream (stdlib tarfile) that another deployment imports
without re-embedding anything.

Members, in this order (format "ragline-collection", FORMAT_VERSION):

    ragline-archive.json                   the header: format and version, embedding model and dimension,
                                           counts; first, so an importer can refuse a wrong archive at once
    documents/{id}/original                the uploaded file, byte for byte (absent if the source never kept it)
    documents/{id}/chunks-NNNN.jsonl       one chunk per line: {"id", "text", "metadata"}
    documents/{id}/vectors-NNNN.npy        float32 little-endian (.npy), row i the vector of line i above
    manifest.json                          last: the header's fields, every document's record, and the size
                                           and sha256 of every member above it

The manifest comes last because the archive is written as it is read out of the stores, in bounded
memory: checksums are known only once their member is written (zip keeps its directory at the end
for the same reason). Nothing is ever extracted to a file system: members are parsed in memory, so a
member name cannot escape anywhere.

    writer = ArchiveWriter(ArchiveHeader(embedding_model="local:all-MiniLM-L6-v2", embedding_dimension=384, ...))
    out.write(writer.start())
    out.write(writer.original(document_id, pdf_bytes))
    out.write(writer.batch(document_id, chunks, vectors))
    out.write(writer.finish(documents))
    manifest = verify(open("c.tar", "rb"), model="local:all-MiniLM-L6-v2")   # refuses anything amiss
    for entry in entries(open("c.tar", "rb"), manifest): ...
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

import numpy as np

from ragline.errors import ErrorCode, RaglineError

FORMAT = "ragline-collection"
FORMAT_VERSION = 1
HEADER_NAME = "ragline-archive.json"
MANIFEST_NAME = "manifest.json"
MEDIA_TYPE = "application/x-tar"
# Chunks per chunks/vectors member pair: bounds the memory of writing and of reading one.
BATCH_CHUNKS = 1000
# A chunks or vectors member of BATCH_CHUNKS chunks of the largest chunk size (20,000 characters) stays
# far below this; a bigger member is refused before it is read into memory.
MAX_BATCH_MEMBER_BYTES = 256 * 1024 * 1024
MAX_JSON_MEMBER_BYTES = 64 * 1024 * 1024
MAX_FILENAME_CHARS = 255
_READ_BYTES = 1024 * 1024
_DOCUMENT_MEMBER = re.compile(r"documents/([0-9a-f]{64})/(original|chunks-(\d{4,})\.jsonl|vectors-(\d{4,})\.npy)")
_VECTOR_DTYPE = np.dtype("<f4")


@dataclass(frozen=True)
class ArchiveHeader:
    embedding_model: str
    embedding_dimension: int
    # The collection's name in the deployment it came from (as its tenant knows it): for people only.
    collection: str = ""
    document_count: int = 0
    chunk_count: int = 0
    page_count: int = 0
    created_at: float = field(default_factory=time.time)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION


@dataclass(frozen=True)
class ArchivedDocument:
    """What a collection records of one indexed document; its job and state stay behind."""

    document_id: str
    filename: str
    pages: int
    chunks: int
    size_bytes: int


@dataclass(frozen=True)
class ArchivedChunk:
    id: str
    text: str
    # As the vector store holds it (document_id, filename, page, chunk, ...): restored as it was.
    metadata: dict


@dataclass(frozen=True)
class Manifest:
    header: ArchiveHeader
    documents: tuple[ArchivedDocument, ...]
    # Member name -> (size, sha256 hex), for every member but the manifest itself.
    members: dict[str, tuple[int, str]]


@dataclass(frozen=True)
class Original:
    document_id: str
    data: bytes


@dataclass(frozen=True)
class Batch:
    document_id: str
    chunks: tuple[ArchivedChunk, ...]
    vectors: np.ndarray


Entry = Original | Batch
# Told how many more chunks were read (for a job's progress).
ChunkCounter = Callable[[int], None]


def invalid(detail: str) -> RaglineError:
    return RaglineError(ErrorCode.INVALID_ARCHIVE, f"the archive is not a usable ragline archive: {detail}; nothing was imported")


# ---- writing ----------------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """Where tarfile writes: collects each member's bytes for the caller to send on, and counts them
    (tarfile asks the position once)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer += data
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        taken = bytes(self.buffer)
        self.buffer.clear()
        return taken


class ArchiveWriter:
    """Builds the archive member by member; each call returns the bytes to append to the output."""

    def __init__(self, header: ArchiveHeader) -> None:
        self.header = header
        self._sink = _Sink()
        self._tar = tarfile.open(fileobj=self._sink, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed by finish()
        self._members: dict[str, tuple[int, str]] = {}
        self._batches: dict[str, int] = {}

    def start(self) -> bytes:
        return self._add(HEADER_NAME, _json_bytes(asdict(self.header)))

    def original(self, document_id: str, data: bytes) -> bytes:
        return self._add(f"documents/{document_id}/original", data)

    def batch(self, document_id: str, chunks: list[ArchivedChunk], vectors: np.ndarray) -> bytes:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        number = self._batches.get(document_id, 0)
        self._batches[document_id] = number + 1
        lines = b"".join(_json_bytes(asdict(chunk)) + b"\n" for chunk in chunks)
        array = io.BytesIO()
        np.save(array, np.ascontiguousarray(vectors, dtype=_VECTOR_DTYPE), allow_pickle=False)
        return self._add(f"documents/{document_id}/chunks-{number:04d}.jsonl", lines) + self._add(
            f"documents/{document_id}/vectors-{number:04d}.npy", array.getvalue()
        )

    def finish(self, documents: list[ArchivedDocument]) -> bytes:
        manifest = {
            **asdict(self.header),
            "documents": [asdict(document) for document in documents],
            "members": {name: {"size": size, "sha256": digest} for name, (size, digest) in self._members.items()},
        }
        written = self._add(MANIFEST_NAME, _json_bytes(manifest), record=False)
        self._tar.close()
        return written + self._sink.take()

    def _add(self, name: str, data: bytes, record: bool = True) -> bytes:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = int(self.header.created_at)
        info.mode = 0o644
        self._tar.addfile(info, io.BytesIO(data))
        if record:
            self._members[name] = (len(data), hashlib.sha256(data).hexdigest())
        return self._sink.take()


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# ---- reading ----------------------------------------------------------------------------------


def read_header(prefix: bytes) -> ArchiveHeader:
    """The header, from the first bytes of an archive (the first kilobytes suffice), unverified:
    enough to refuse a wrong archive before the rest of it arrives."""
    try:
        with tarfile.open(fileobj=io.BytesIO(prefix), mode="r|") as tar:
            member = tar.next()
            if member is None or member.name != HEADER_NAME or not member.isfile():
                raise invalid(f"it does not start with {HEADER_NAME}")
            return _header(_read_member(tar, member, MAX_JSON_MEMBER_BYTES))
    except (tarfile.TarError, EOFError) as exc:
        raise invalid(f"not a tar archive ({exc})") from exc


def require_compatible(header: ArchiveHeader, model: str, dimension: int | None = None) -> None:
    """Refuse an archive whose vectors another embedding model made: this deployment embeds questions
    with its own model, and the two kinds of vector do not compare."""
    if header.embedding_model != model or (dimension is not None and header.embedding_dimension != dimension):
        held = f"'{model}'" + (f" ({dimension} dimensions)" if dimension is not None else "")
        raise RaglineError(
            ErrorCode.EMBEDDING_MODEL_MISMATCH,
            f"the archive's vectors come from embedding model '{header.embedding_model}' "
            f"({header.embedding_dimension} dimensions), but this deployment uses {held}; import it into "
            "a deployment configured with the same model",
        )


def verify(
    stream: BinaryIO,
    model: str,
    dimension: int | None = None,
    on_chunks: ChunkCounter | None = None,
    max_original_bytes: int | None = None,
) -> Manifest:
    """Read the whole archive once, writing nothing, and return its manifest if every member is what
    the manifest says (size and sha256), parses, and agrees with the header; raise INVALID_ARCHIVE (or
    the compatibility errors of require_compatible) otherwise. `on_chunks` hears of chunks as they pass."""
    seen: dict[str, tuple[int, str]] = {}
    chunk_counts: dict[str, int] = {}
    original_sizes: dict[str, int] = {}
    manifest: Manifest | None = None
    header: ArchiveHeader | None = None
    pending: tuple[str, str, int] | None = None  # (document, batch number, lines) awaiting its vectors
    with _open(stream) as tar:
        for member in _members(tar):
            if manifest is not None:
                raise invalid(f"member {member.name!r} after the manifest")
            if header is None:
                if member.name != HEADER_NAME:
                    raise invalid(f"it does not start with {HEADER_NAME}")
                data = _read_member(tar, member, MAX_JSON_MEMBER_BYTES)
                header = _header(data)
                require_compatible(header, model, dimension)
                seen[member.name] = (len(data), hashlib.sha256(data).hexdigest())
                continue
            if member.name == MANIFEST_NAME:
                if pending is not None:
                    raise invalid(f"chunks of document {pending[0]} have no vectors")
                manifest = _manifest(_read_member(tar, member, MAX_JSON_MEMBER_BYTES))
                continue
            if member.name in seen:
                raise invalid(f"member {member.name!r} appears twice")
            document_id, kind, number = _document_member(member.name)
            if kind == "original":
                size, digest = _hash_member(tar, member, max_original_bytes)
                seen[member.name] = (size, digest)
                original_sizes[document_id] = size
                continue
            data = _read_member(tar, member, MAX_BATCH_MEMBER_BYTES)
            seen[member.name] = (len(data), hashlib.sha256(data).hexdigest())
            if kind == "chunks":
                if pending is not None:
                    raise invalid(f"chunks of document {pending[0]} have no vectors")
                lines = len(_chunks(document_id, data))
                pending = (document_id, number, lines)
                continue
            if pending is None or pending[:2] != (document_id, number):
                raise invalid(f"{member.name} does not follow its chunks member")
            vectors = _vectors(member.name, data, header.embedding_dimension)
            if len(vectors) != pending[2]:
                raise invalid(f"{member.name} holds {len(vectors)} vectors for {pending[2]} chunks")
            chunk_counts[document_id] = chunk_counts.get(document_id, 0) + pending[2]
            pending = None
            if on_chunks is not None:
                on_chunks(len(vectors))
    if header is None:
        raise invalid("it is empty")
    if manifest is None:
        raise invalid("it ends before its manifest (truncated?)")
    _agree(header, manifest, seen, chunk_counts, original_sizes)
    return manifest


def entries(stream: BinaryIO, manifest: Manifest) -> Iterator[Entry]:
    """The originals and chunk batches of an archive that `verify` accepted, in archive order, each
    checked again against the manifest as it is read (a store that changed the bytes since is caught)."""
    pending: tuple[str, tuple[ArchivedChunk, ...]] | None = None
    with _open(stream) as tar:
        for member in _members(tar):
            if member.name in (HEADER_NAME, MANIFEST_NAME):
                continue
            expected = manifest.members.get(member.name)
            if expected is None:
                raise invalid(f"member {member.name!r} is not in the manifest")
            data = _read_member(tar, member, max(expected[0], 0))
            if (len(data), hashlib.sha256(data).hexdigest()) != expected:
                raise invalid(f"{member.name} changed since it was verified")
            document_id, kind, _ = _document_member(member.name)
            if kind == "original":
                yield Original(document_id, data)
            elif kind == "chunks":
                pending = (document_id, tuple(_chunks(document_id, data)))
            elif pending is not None:
                yield Batch(document_id, pending[1], _vectors(member.name, data, manifest.header.embedding_dimension))
                pending = None


# ---- parsing ----------------------------------------------------------------------------------


class _open:
    """A tar stream over `stream`, its read errors (truncation included) as INVALID_ARCHIVE."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def __enter__(self) -> tarfile.TarFile:
        try:
            self._tar = tarfile.open(fileobj=self._stream, mode="r|")
        except (tarfile.TarError, EOFError) as exc:
            raise invalid(f"not a tar archive ({exc})") from exc
        return self._tar

    def __exit__(self, exc_type: type | None, exc: BaseException | None, _: object) -> bool:
        self._tar.close()
        if isinstance(exc, tarfile.TarError | EOFError):
            raise invalid(f"it cannot be read to its end ({exc}); truncated?") from exc
        return False


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        if not member.isfile():
            raise invalid(f"member {member.name!r} is not a regular file")
        yield member


def _document_member(name: str) -> tuple[str, str, str]:
    """(document id, "original" / "chunks" / "vectors", batch number) of a member name."""
    match = _DOCUMENT_MEMBER.fullmatch(name)
    if match is None:
        raise invalid(f"unexpected member {name!r}")
    document_id, what, chunks_number, vectors_number = match.groups()
    if what == "original":
        return document_id, "original", ""
    return (document_id, "chunks", chunks_number) if chunks_number else (document_id, "vectors", vectors_number)


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    if member.size > limit:
        raise invalid(f"member {member.name!r} is larger than {limit} bytes")
    handle = tar.extractfile(member)
    data = handle.read() if handle is not None else b""
    if len(data) != member.size:
        raise invalid(f"member {member.name!r} ends early (truncated?)")
    return data


def _hash_member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int | None) -> tuple[int, str]:
    """Size and sha256 of a member, read in pieces: originals may be large."""
    if limit is not None and member.size > limit:
        raise invalid(f"the original {member.name!r} is larger than this deployment's upload limit ({limit} bytes)")
    handle = tar.extractfile(member)
    digest, size = hashlib.sha256(), 0
    while handle is not None and (piece := handle.read(_READ_BYTES)):
        digest.update(piece)
        size += len(piece)
    if size != member.size:
        raise invalid(f"member {member.name!r} ends early (truncated?)")
    return size, digest.hexdigest()


def _json(name: str, data: bytes) -> dict:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise invalid(f"{name} is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise invalid(f"{name} is not a JSON object")
    return value


def _header(data: bytes) -> ArchiveHeader:
    raw = _json(HEADER_NAME, data)
    if raw.get("format") != FORMAT:
        raise invalid(f"format {raw.get('format')!r}, not {FORMAT!r}")
    version = raw.get("format_version")
    # Checked before the fields: a newer version may have fields this one does not know.
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise RaglineError(
            ErrorCode.UNSUPPORTED_ARCHIVE_VERSION,
            f"the archive has format version {version}; this ragline reads versions up to {FORMAT_VERSION}: "
            "upgrade ragline to import it",
        )
    try:
        header = ArchiveHeader(**raw)
    except TypeError as exc:
        raise invalid(f"{HEADER_NAME} has unexpected fields ({exc})") from exc
    _check_types(
        HEADER_NAME,
        (header.format, str), (header.format_version, int), (header.embedding_model, str),
        (header.embedding_dimension, int), (header.document_count, int), (header.chunk_count, int), (header.page_count, int),
    )
    if header.embedding_dimension < 1:
        raise invalid(f"{HEADER_NAME} gives a dimension of {header.embedding_dimension}")
    return header


def _manifest(data: bytes) -> Manifest:
    raw = _json(MANIFEST_NAME, data)
    documents, members = raw.pop("documents", None), raw.pop("members", None)
    if not isinstance(documents, list) or not isinstance(members, dict):
        raise invalid(f"{MANIFEST_NAME} lacks its documents or members")
    header = _header(_json_bytes(raw))
    try:
        records = tuple(ArchivedDocument(**document) for document in documents)
        listed = {name: (entry["size"], entry["sha256"]) for name, entry in members.items()}
    except (TypeError, KeyError) as exc:
        raise invalid(f"{MANIFEST_NAME} has a malformed entry ({exc})") from exc
    for record in records:
        _check_types(
            MANIFEST_NAME,
            (record.document_id, str), (record.filename, str), (record.pages, int), (record.chunks, int), (record.size_bytes, int),
        )
        if not record.filename or len(record.filename) > MAX_FILENAME_CHARS or any(ord(ch) < 32 for ch in record.filename):
            raise invalid(f"document {record.document_id} has an unusable file name")
    return Manifest(header=header, documents=records, members=listed)


def _check_types(name: str, *pairs: tuple[object, type]) -> None:
    # bool is an int to Python, never to a reader of the format.
    if any(not isinstance(value, kind) or (kind is int and isinstance(value, bool)) for value, kind in pairs):
        raise invalid(f"{name} has a field of the wrong type")


def _chunks(document_id: str, data: bytes) -> list[ArchivedChunk]:
    chunks = []
    for number, line in enumerate(data.splitlines(), start=1):
        raw = _json(f"chunk line {number} of document {document_id}", line)
        chunk_id, text, metadata = raw.get("id"), raw.get("text"), raw.get("metadata")
        if not isinstance(chunk_id, str) or not isinstance(text, str) or not isinstance(metadata, dict):
            raise invalid(f"chunk line {number} of document {document_id} lacks its id, text or metadata")
        # A chunk answers for its own document only: its id and metadata must say so.
        if not chunk_id.startswith(document_id + ":") or metadata.get("document_id") != document_id:
            raise invalid(f"chunk {chunk_id!r} does not belong to document {document_id}")
        page = metadata.get("page")
        if not isinstance(page, int) or isinstance(page, bool) or page < 1:
            raise invalid(f"chunk {chunk_id!r} has no page number")
        if any(not isinstance(value, str | int | float | bool) for value in metadata.values()):
            raise invalid(f"chunk {chunk_id!r} has metadata a vector store cannot hold")
        chunks.append(ArchivedChunk(chunk_id, text, metadata))
    return chunks


def _vectors(name: str, data: bytes, dimension: int) -> np.ndarray:
    try:
        vectors = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise invalid(f"{name} is not a .npy array ({exc})") from exc
    if vectors.dtype != _VECTOR_DTYPE or vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise invalid(f"{name} holds {vectors.dtype} {vectors.shape}, not float32 rows of {dimension}")
    if not np.isfinite(vectors).all():
        raise invalid(f"{name} holds values that are not finite numbers")
    return vectors


def _agree(
    header: ArchiveHeader,
    manifest: Manifest,
    seen: dict[str, tuple[int, str]],
    chunk_counts: dict[str, int],
    original_sizes: dict[str, int],
) -> None:
    """The members read are exactly those the manifest lists, byte for byte, and the records and the
    header count what is there."""
    if manifest.header != header:
        raise invalid(f"{MANIFEST_NAME} and {HEADER_NAME} disagree")
    for name in sorted(seen.keys() | manifest.members.keys()):
        if name not in manifest.members:
            raise invalid(f"member {name!r} is not in the manifest")
        if name not in seen:
            raise invalid(f"member {name!r} is missing (truncated?)")
        if seen[name] != manifest.members[name]:
            raise invalid(f"member {name!r} does not match its checksum (changed or damaged)")
    ids = [document.document_id for document in manifest.documents]
    if len(set(ids)) != len(ids) or not original_sizes.keys() <= set(ids) or not chunk_counts.keys() <= set(ids):
        raise invalid("its documents and their members do not match")
    for document in manifest.documents:
        # A document may come without its original (one its deployment never kept), never with another size.
        size = original_sizes.get(document.document_id, document.size_bytes)
        if document.chunks != chunk_counts.get(document.document_id, 0) or document.size_bytes != size:
            raise invalid(f"document {document.document_id}'s record does not count what the archive holds")
    if (header.document_count, header.chunk_count, header.page_count) != (
        len(ids), sum(chunk_counts.values()), sum(document.pages for document in manifest.documents)
    ):
        raise invalid(f"{HEADER_NAME} does not count what the archive holds")
