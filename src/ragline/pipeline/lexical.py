"""Lexical retrieval: Okapi BM25 over a collection's chunk texts, kept up to date one document at a time.

Embeddings miss exact tokens that carry an answer (names, numbers, codes such as "AD 2018-23-51");
BM25 scores them, and reciprocal rank fusion (pipeline/fusion.py) merges both rankings.

Ingest turns each document into a `LexicalSegment` (its chunks' term counts, a few bytes per word)
once; a `LexicalIndex` adds and removes whole segments, so a collection's index follows its
documents without ever reading every chunk text again. Terms are kept as 64-bit hashes, so segments
merge with array operations alone (a collision needs ~4 billion distinct terms to become likely).

    segment = LexicalSegment.build("d", [LexicalEntry("d:1:0", "d", 1, "MCAS trims the stabilizer")])
    index = LexicalIndex()
    index.update(added=[LexicalSegment.from_bytes(segment.to_bytes())])
    assert index.search("What does MCAS do?", 5) == ["d:1:0"]
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ragline.domain import LexicalEntry

# Ref: Robertson and Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond" (2009), §3.3:
# k1 in [1.2, 2.0] and b = 0.75 are the usual defaults.
K1 = 1.5
B = 0.75

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being between both but by can could did do does
    during each for from had has have he her here hers him his how i if in into is it its itself me more most my no
    nor not of on once only or other our out over own same she should so some such than that the their them then
    there these they this those through to too under until up very was we were what when where which while who whom
    why will with would you your""".split()
)
# A new layout gets a new magic; a reader refuses what it does not know.
SEGMENT_MAGIC = b"ragline-lexical-segment-1\n"
_SEGMENT_ARRAYS = ("pages", "lengths", "terms", "starts", "positions", "counts")
_ALIGN = 8
# Postings of one merged block at most. A merge sorts its block once (tens of milliseconds for 256k
# postings on one busy core): bigger blocks would put longer pauses into the question that finds a new
# document, smaller ones more blocks for every question to look in.
MAX_BLOCK_POSTINGS = 1 << 18
# Removed chunks keep their slots until they outnumber the live ones (and are at least this many).
COMPACT_MIN_DEAD = 1024
_COUNT_MAX = np.iinfo(np.uint16).max


def tokenize(text: str) -> list[str]:
    """Lower-cased words without stopwords, possessives or plural endings.

    >>> tokenize("The world's populations grew; cities' densities too")
    ['world', 'population', 'grew', 'city', 'density']
    """
    return [_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    # _WORD never ends a word on an apostrophe: only a possessive "'s" can be left to drop.
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def term_hash(term: str) -> int:
    """A term's 64-bit id, the same in every process (Python's own hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True, eq=False)
class LexicalSegment:
    """The term counts of one document's chunks: what BM25 needs of them, without their text.

    Postings of `terms[i]` (sorted 64-bit hashes) are `positions`/`counts[starts[i]:starts[i + 1]]`,
    positions being indexes into `chunk_ids`, `pages` and `lengths` (tokens per chunk).
    """

    document_id: str
    chunk_ids: tuple[str, ...]
    pages: np.ndarray
    lengths: np.ndarray
    terms: np.ndarray
    starts: np.ndarray
    positions: np.ndarray
    counts: np.ndarray

    @classmethod
    def build(cls, document_id: str, entries: Sequence[LexicalEntry]) -> LexicalSegment:
        vocabulary: dict[str, int] = {}
        term_numbers: list[int] = []
        counts: list[int] = []
        distinct = np.zeros(len(entries), dtype=np.int64)
        lengths = np.zeros(len(entries), dtype=np.int32)
        for position, entry in enumerate(entries):
            counted = Counter(tokenize(entry.text))
            lengths[position] = counted.total()
            distinct[position] = len(counted)
            term_numbers.extend(vocabulary.setdefault(term, len(vocabulary)) for term in counted)
            counts.extend(counted.values())
        hashes = np.fromiter((term_hash(term) for term in vocabulary), dtype=np.uint64, count=len(vocabulary))
        terms, starts, order = _csr(hashes[np.asarray(term_numbers, dtype=np.int64)])
        return cls(
            document_id=document_id,
            chunk_ids=tuple(entry.chunk_id for entry in entries),
            pages=np.fromiter((entry.page for entry in entries), dtype=np.int32, count=len(entries)),
            lengths=lengths,
            terms=terms,
            starts=starts,
            positions=np.repeat(np.arange(len(entries), dtype=np.int32), distinct)[order],
            counts=np.minimum(np.asarray(counts, dtype=np.int64), _COUNT_MAX).astype(np.uint16)[order],
        )

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def to_bytes(self) -> bytes:
        """A JSON header (ids, array types and lengths) then the raw arrays: read back without copying
        or unpickling anything, so loading is cheap and a segment cannot run code."""
        arrays = {name: np.ascontiguousarray(getattr(self, name)) for name in _SEGMENT_ARRAYS}
        header = json.dumps(
            {
                "document_id": self.document_id,
                "chunk_ids": list(self.chunk_ids),
                "arrays": [[name, array.dtype.str, len(array)] for name, array in arrays.items()],
            }
        ).encode()
        parts = [SEGMENT_MAGIC, len(header).to_bytes(4, "little"), header]
        for array in arrays.values():
            parts.append(b"\0" * (-sum(map(len, parts)) % _ALIGN))
            parts.append(array.tobytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> LexicalSegment:
        if not data.startswith(SEGMENT_MAGIC):
            raise ValueError("not a lexical segment of this format")
        offset = len(SEGMENT_MAGIC) + 4
        header_end = offset + int.from_bytes(data[len(SEGMENT_MAGIC) : offset], "little")
        header = json.loads(data[offset:header_end])
        arrays, offset = {}, header_end
        for name, dtype, count in header["arrays"]:
            offset += -offset % _ALIGN
            arrays[name] = np.frombuffer(data, dtype=np.dtype(dtype), count=count, offset=offset)
            offset += arrays[name].nbytes
        return cls(document_id=header["document_id"], chunk_ids=tuple(header["chunk_ids"]), **arrays)


def _csr(term_of_posting: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct terms, where each one's postings start, the order that groups postings by term).

    The sort is stable, so postings of one term keep their order (merged blocks come out in slot order).
    """
    order = np.argsort(term_of_posting, kind="stable")
    ordered = term_of_posting[order]
    boundaries = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    first = np.concatenate(([0], boundaries)) if len(ordered) else np.zeros(0, dtype=np.int64)
    starts = np.concatenate((first, [len(ordered)])).astype(np.int64)
    return ordered[first].astype(np.uint64), starts, order


@dataclass(frozen=True, eq=False)
class _Block:
    """Postings of several segments, grouped by term; slots index the whole collection's chunk arrays."""

    terms: np.ndarray
    starts: np.ndarray
    slots: np.ndarray
    counts: np.ndarray

    @property
    def postings(self) -> int:
        return len(self.slots)

    @property
    def nbytes(self) -> int:
        return self.terms.nbytes + self.starts.nbytes + self.slots.nbytes + self.counts.nbytes

    def lookup(self, hashes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(slots, counts) of each hash, empty where the block lacks it."""
        at = np.searchsorted(self.terms, hashes)
        found = []
        for term, index in zip(hashes, at, strict=True):
            if index < len(self.terms) and self.terms[index] == term:
                start, stop = self.starts[index], self.starts[index + 1]
                found.append((self.slots[start:stop], self.counts[start:stop]))
            else:
                found.append((self.slots[:0], self.counts[:0]))
        return found

    @classmethod
    def merge(cls, parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], keep: np.ndarray, remap: np.ndarray | None = None) -> _Block:
        """One block from (terms, starts, slots, counts) parts, without the postings of slots `keep` drops."""
        term_of_posting = np.concatenate([np.repeat(terms, np.diff(starts)) for terms, starts, _, _ in parts])
        slots = np.concatenate([part[2] for part in parts])
        counts = np.concatenate([part[3] for part in parts])
        alive = keep[slots]
        term_of_posting, slots, counts = term_of_posting[alive], slots[alive], counts[alive]
        terms, starts, order = _csr(term_of_posting)
        slots = slots[order]
        return cls(terms, starts, (remap[slots] if remap is not None else slots).astype(np.int32), counts[order])

    def part(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.terms, self.starts, self.slots, self.counts


class LexicalIndex:
    """BM25 over the chunks of the segments it holds (one per document); `search` returns chunk ids, best first.

    Every chunk has a slot in flat per-chunk arrays; postings live in a few blocks, each sorted by
    term hash. A new document adds a block, and the newest blocks merge while they are of a size
    (a binary counter, capped at MAX_BLOCK_POSTINGS), so a question looks in a few dozen blocks at
    most. A removed document's slots go dead at once and are compacted away later.

    >>> index = LexicalIndex()
    >>> index.update(added=[LexicalSegment.build("d", [LexicalEntry("d:1:0", "d", 1, "MCAS trims the stabilizer"),
    ...                                               LexicalEntry("d:2:0", "d", 2, "The stick shaker warns of a stall")])])
    >>> index.search("What does MCAS do?", 5)
    ['d:1:0']
    """

    def __init__(self) -> None:
        self._blocks: list[_Block] = []
        self._chunk_ids: list[str] = []
        self._chunk_id_bytes = 0
        self._pages = np.zeros(0, dtype=np.int32)
        self._lengths = np.zeros(0, dtype=np.float32)
        self._documents = np.zeros(0, dtype=np.int32)
        self._alive = np.zeros(0, dtype=bool)
        # Document id -> (its number in _documents, first slot, end slot) of the documents held.
        self._ranges: dict[str, tuple[int, int, int]] = {}
        self._document_numbers: dict[str, int] = {}
        self._live = 0
        self._length_sum = 0.0

    def __len__(self) -> int:
        """Chunks held."""
        return self._live

    @property
    def documents(self) -> frozenset[str]:
        return frozenset(self._ranges)

    @property
    def nbytes(self) -> int:
        """Memory held, about: arrays, chunk id strings and their list."""
        arrays = self._pages.nbytes + self._lengths.nbytes + self._documents.nbytes + self._alive.nbytes
        return arrays + sum(block.nbytes for block in self._blocks) + self._chunk_id_bytes + 8 * len(self._chunk_ids)

    def update(self, added: Sequence[LexicalSegment] = (), removed: Iterable[str] = ()) -> None:
        """Drop the documents `removed` names, then hold `added` (a segment replaces its document's)."""
        for document_id in [*removed, *(segment.document_id for segment in added)]:
            self._drop(document_id)
        if added:
            self._add(added)
        if len(self._alive) - self._live >= max(self._live, COMPACT_MIN_DEAD):
            self._compact()

    def _drop(self, document_id: str) -> None:
        held = self._ranges.pop(document_id, None)
        if held is None:
            return
        _, start, stop = held
        self._alive[start:stop] = False
        self._live -= stop - start
        self._length_sum -= float(self._lengths[start:stop].sum())

    def _add(self, segments: Sequence[LexicalSegment]) -> None:
        base = len(self._chunk_ids)
        parts, numbers = [], []
        for segment in segments:
            number = self._document_numbers.setdefault(segment.document_id, len(self._document_numbers))
            self._ranges[segment.document_id] = (number, base, base + len(segment))
            parts.append((segment.terms, segment.starts, segment.positions.astype(np.int32) + base, segment.counts))
            numbers.append(np.full(len(segment), number, dtype=np.int32))
            self._chunk_ids.extend(segment.chunk_ids)
            self._chunk_id_bytes += sum(sys.getsizeof(chunk_id) for chunk_id in segment.chunk_ids)
            self._live += len(segment)
            self._length_sum += float(segment.lengths.sum())
            base += len(segment)
        self._pages = np.concatenate([self._pages, *(segment.pages for segment in segments)]).astype(np.int32)
        self._lengths = np.concatenate([self._lengths, *(segment.lengths for segment in segments)]).astype(np.float32)
        self._documents = np.concatenate([self._documents, *numbers])
        self._alive = np.concatenate([self._alive, np.ones(base - len(self._alive), dtype=bool)])
        group: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for part in parts:
            if group and sum(len(p[2]) for p in group) + len(part[2]) > MAX_BLOCK_POSTINGS:
                self._blocks.append(_Block.merge(group, self._alive))
                group = []
            group.append(part)
        self._blocks.append(_Block.merge(group, self._alive))
        self._blocks = [block for block in self._blocks if block.postings]
        while len(self._blocks) > 1:
            newer, older = self._blocks[-1], self._blocks[-2]
            if older.postings > newer.postings or older.postings + newer.postings > MAX_BLOCK_POSTINGS:
                break
            self._blocks[-2:] = [_Block.merge([older.part(), newer.part()], self._alive)]

    def _compact(self) -> None:
        """Give the live chunks slots 0..n-1 again, without the dead ones and their postings."""
        remap = (np.cumsum(self._alive) - 1).astype(np.int32)
        blocks, group = [], []
        for block in self._blocks:
            if group and sum(len(p[2]) for p in group) + block.postings > MAX_BLOCK_POSTINGS:
                blocks.append(_Block.merge(group, self._alive, remap))
                group = []
            group.append(block.part())
        if group:
            blocks.append(_Block.merge(group, self._alive, remap))
        self._blocks = [block for block in blocks if block.postings]
        alive = self._alive
        self._chunk_ids = [chunk_id for chunk_id, live in zip(self._chunk_ids, alive, strict=True) if live]
        self._chunk_id_bytes = sum(sys.getsizeof(chunk_id) for chunk_id in self._chunk_ids)
        self._pages, self._lengths, self._documents = self._pages[alive], self._lengths[alive], self._documents[alive]
        self._alive = np.ones(len(self._chunk_ids), dtype=bool)
        self._ranges = {document: (number, int(remap[start]), int(remap[start]) + stop - start) for document, (number, start, stop) in self._ranges.items()}

    def search(self, query: str, n: int, document_ids: Collection[str] = (), page_ranges: Sequence[tuple[int, int]] = ()) -> list[str]:
        """The `n` best chunks that contain at least one query term, best first (ties: the earlier held).

        Only chunks of `document_ids` (none: all) on pages within any of `page_ranges` (inclusive; none:
        all) are ranked.
        """
        hashes = np.unique(np.fromiter((term_hash(term) for term in set(tokenize(query))), dtype=np.uint64))
        if not self._live or not len(hashes) or n <= 0:
            return []
        average = self._length_sum / self._live or 1.0
        scores = np.zeros(len(self._alive), dtype=np.float32)
        found = [block.lookup(hashes) for block in self._blocks]
        for term in range(len(hashes)):
            slots = np.concatenate([hits[term][0] for hits in found])
            counts = np.concatenate([hits[term][1] for hits in found])
            live = self._alive[slots]
            slots, counts = slots[live], counts[live].astype(np.float32)
            if not len(slots):
                continue
            # Lucene's idf: never negative, so a term in most chunks still counts a little instead of against.
            idf = math.log(1 + (self._live - len(slots) + 0.5) / (len(slots) + 0.5))
            norm = K1 * (1 - B + B * self._lengths[slots] / average)
            scores[slots] += idf * counts * (K1 + 1) / (counts + norm)
        candidates = np.flatnonzero(scores > 0)
        if document_ids:
            wanted = [self._ranges[document][0] for document in document_ids if document in self._ranges]
            candidates = candidates[np.isin(self._documents[candidates], wanted)]
        if page_ranges:
            pages = self._pages[candidates]
            candidates = candidates[np.logical_or.reduce([(pages >= first) & (pages <= last) for first, last in page_ranges])]
        if len(candidates) > n:
            # Every chunk tied with the n-th stays in, so the tie-break below decides, not the partition.
            cut = np.partition(scores[candidates], len(candidates) - n)[len(candidates) - n]
            candidates = candidates[scores[candidates] >= cut]
        ranked = candidates[np.lexsort((candidates, -scores[candidates]))][:n]
        return [self._chunk_ids[slot] for slot in ranked]
