"""Answers from retrieved passages, each claim cited by the number of its passage.

Extractive: the passages' sentences closest to the question. Generative: a chat model writes the
answer from numbered sources; its citations are checked against the sources it was given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple, Protocol, TypeVar

import numpy as np

from ragline.domain import GenerationFailed, Messages, Passage
from ragline.pipeline import tables
from ragline.pipeline.lexical import tokenize

NOT_FOUND_ANSWER = "Not found in the documents."
# Sentences shorter than this are headings, list markers or table cells, not answers.
MIN_SENTENCE_CHARS = 25
MIN_SENTENCE_WORDS = 4
MAX_SENTENCE_CHARS = 600
# Longer "sentences" are tables or text without punctuation: they compete as overlapping windows
# of this many words (half a window apart) instead of being left out.
WINDOW_WORDS = 40
# How a sentence is ranked: its own similarity to the question, its passage's, and the share of the
# question's words it contains (names and numbers that embeddings blur). Tuned with bench/eval.py.
SENTENCE_WEIGHT = 0.5
PASSAGE_WEIGHT = 0.2
WORDS_WEIGHT = 0.3
# A sentence after the first must score at least this share of the best one's score: below it, it
# no longer answers the question, it only shares its subject. Replayed on bench/eval.py's retrieved
# passages, 0.6 keeps every right answer while answers shrink from 3 sentences to 2 on average; 0.75
# and above cut sentences that held the answer.
RELATIVE_FLOOR = 0.6
# Maximal marginal relevance: a sentence's score is lowered by this times its highest similarity to
# a sentence already chosen, so the answer does not say the same thing twice.
REDUNDANCY_PENALTY = 0.2
# Two passages that repeat this many characters of each other (neighbouring chunks of a page share
# their overlap) are one source.
MIN_OVERLAP_CHARS = 30

# A sentence runs to . ! or ? (and any closing quotes or brackets) followed by whitespace and
# something that can start a sentence, or to the end of the text; a title ("Mrs.") or an initial
# ("Colonel F.", "U.S.") does not end one.
_NOT_AFTER = "".join(f"(?<!\\b{word})" for word in ("Mr", "Mrs", "Ms", "Dr", "St", "Col", "Capt", "Gen", "Rev", "Prof", "Jr", "Sr", "vs", "[A-Z]"))
_SENTENCE = re.compile(rf"\S.*?(?:(?:{_NOT_AFTER}\.|[!?])[\"')\]]*(?=\s+[\"'(]?[A-Z0-9])|$)")
# A block that starts in lower case continues the sentence of the block before it (a layout break
# inside a paragraph, e.g. after a superscript reference mark).
_CONTINUATION = re.compile(r"[a-z]")
# What a sentence that can answer starts and ends with; headings, captions, labels and text cut at
# a chunk's edge do not.
_SENTENCE_START = re.compile(r"[\"'“‘(]?[A-Z0-9]")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
# A Markdown table row ("| Texas | 21,550 |") and the rule under a header row ("|---|---:|").
_TABLE_ROW = re.compile(r"^\|.*\|$")
_TABLE_RULE = re.compile(r"^\|[\s:|-]*\|$")
# Reference marks such as "[12]" (encyclopedias, papers) are noise in an answer.
_REFERENCE_MARK = re.compile(r"\[\d+\]")


T = TypeVar("T")

AnswerMode = Literal["extractive", "generative", "extractive_fallback"]


@dataclass(frozen=True)
class Answer:
    answer: str
    grounded: bool
    citations: list[Passage]
    mode: AnswerMode = "extractive"
    # Why a generative answer was replaced by the extractive one: timeout, unavailable, error,
    # uncited (the model cited none of its sources) or not_configured.
    fallback_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    # The standalone question retrieval used, when a conversation's follow-up was rewritten.
    standalone_question: str | None = None
    # The highest cosine score among the retrieved passages (None: nothing retrieved), evidence or not.
    best_score: float | None = None


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, joining the line breaks PDF extraction leaves inside them.

    >>> split_sentences("The world has 8 billion people. It grows\\nslowly now.")
    ['The world has 8 billion people.', 'It grows slowly now.']
    """
    flat = " ".join(_REFERENCE_MARK.sub("", text).split())
    return [match.group(0).strip() for match in _SENTENCE.finditer(flat)]


def is_sentence(text: str) -> bool:
    """Whether `text` reads as a whole sentence: it starts as one, ends with terminal punctuation and
    has words in lower case, so a heading, a caption or a sentence cut at a chunk's edge is not one.

    >>> is_sentence("The median age of human beings as of 2020 is 31 years.")
    True
    >>> is_sentence("Mathematical approximations Years for world population to double")
    False
    """
    words = text.split()
    return (
        len(text) >= MIN_SENTENCE_CHARS
        and len(words) >= MIN_SENTENCE_WORDS
        and bool(_SENTENCE_START.match(text))
        and bool(_SENTENCE_END.search(text))
        and any(word.islower() for word in words)
    )


class Piece(NamedTuple):
    """What an answer can quote: a whole sentence, a table row (after its columns' names), or a window
    of text too long to be a sentence or written without full stops."""

    text: str
    kind: Literal["sentence", "row", "window"]


def answer_pieces(text: str) -> list[Piece]:
    """A passage's pieces. Blocks (separated by blank lines) never run into each other, so a heading or
    caption never joins the sentence before it; a Markdown table's header row names its rows' cells.

    >>> [p.text for p in answer_pieces("World population\\n\\nThe median age is 31 years.[9] It was")]
    ['The median age is 31 years.']
    >>> [p.text for p in answer_pieces("| State | Handgun |\\n|---|---|\\n| Texas | 56,941 |")]
    ['Texas: Handgun 56,941']
    >>> [len(p.text.split()) for p in answer_pieces(" ".join(["cell"] * 190))]
    [40, 40, 40, 40, 40, 40, 40, 40, 30]
    """
    pieces: list[Piece] = []
    for block in _blocks(text):
        for part in tables.blocks(block):
            if part.is_table:
                header = part.header.splitlines()[0]
                pieces.extend(Piece(tables.row_quote(header, row), "row") for row in part.rows)
            else:
                pieces.extend(_prose_pieces(part.text))
    return pieces


def _prose_pieces(text: str) -> list[Piece]:
    pieces: list[Piece] = []
    prose: list[str] = []
    for line in text.splitlines():
        # A row whose header stayed in the chunk before (an overlap cut into a table).
        if _TABLE_ROW.match(line.strip()):
            if not _TABLE_RULE.match(line.strip()):
                pieces.append(Piece(" ".join(line.split()), "row"))
        else:
            prose.append(line)
    sentences = split_sentences("\n".join(prose))
    # A whole block without a full stop; an unfinished sentence after a finished one is cut text.
    unpunctuated = len(sentences) == 1 and _unpunctuated_prose(sentences[0])
    for sentence in sentences:
        if len(sentence) > MAX_SENTENCE_CHARS or unpunctuated:
            pieces.extend(Piece(window, "window") for window in _windows(sentence))
        elif is_sentence(sentence):
            pieces.append(Piece(sentence, "sentence"))
    return pieces


def _unpunctuated_prose(text: str) -> bool:
    """Prose whose full stops the document never had (the FBI NICS notes): at least half a window of
    words, mostly lower case. Headings run together are shorter, or mostly capitalised.

    >>> _unpunctuated_prose("These statistics represent the number of firearm background checks initiated through the NICS They do not represent the number of firearms sold")
    True
    >>> _unpunctuated_prose("Mathematical approximations Years for world population to double Number of humans who have ever lived")
    False
    """
    words = text.split()
    return len(words) >= WINDOW_WORDS // 2 and not _SENTENCE_END.search(text) and 2 * sum(word.islower() for word in words) > len(words)


def _blocks(text: str) -> list[str]:
    """The passage's blocks, a block that continues an unfinished sentence joined to the one before.

    >>> _blocks("It rose to 580 million in 1953,[51]\\n\\nand now stands at 1.3 billion.\\n\\nAsia")
    ['It rose to 580 million in 1953,[51]\\nand now stands at 1.3 billion.', 'Asia']
    """
    blocks: list[str] = []
    for block in text.split("\n\n"):
        if blocks and _CONTINUATION.match(block) and not _SENTENCE_END.search(blocks[-1]):
            blocks[-1] += "\n" + block
        else:
            blocks.append(block)
    return blocks


def _windows(text: str) -> list[str]:
    words = text.split()
    step = WINDOW_WORDS // 2
    return [" ".join(words[start : start + WINDOW_WORDS]) for start in range(0, max(len(words) - step, 1), step)]


def _lines(text: str) -> list[str]:
    """A passage's lines with more than one word: the rows of a table that has no sentences."""
    return [" ".join(line.split()) for line in text.splitlines() if len(line.split()) > 1]


def choose_sentences(
    scores: Sequence[float],
    vectors: np.ndarray,
    limit: int,
    floor: float = RELATIVE_FLOOR,
    penalty: float = REDUNDANCY_PENALTY,
) -> list[int]:
    """Indexes of at most `limit` candidates, in the order an answer should give them.

    Maximal marginal relevance: each next pick is the candidate whose score, less `penalty` times its
    highest cosine similarity (rows of `vectors` are unit length) to those already picked, is best;
    picking stops when that falls below `floor` times the best candidate's score.

    >>> vectors = np.eye(3)[[0, 0, 1, 2]]  # candidates 0 and 1 say the same thing; 3 scores below the floor
    >>> choose_sentences([0.9, 0.85, 0.8, 0.4], vectors, limit=4)
    [0, 2, 1]
    """
    if not len(scores):
        return []
    relevance = np.asarray(scores, dtype=np.float64)
    cutoff = floor * float(relevance.max())
    redundancy = np.zeros_like(relevance)
    available = np.ones(len(relevance), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < limit and available.any():
        adjusted = np.where(available, relevance - penalty * redundancy, -np.inf)
        best = int(np.argmax(adjusted))
        if chosen and adjusted[best] < cutoff:
            break
        chosen.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return chosen


def extractive_answer(
    question_vector: Sequence[float],
    passages: Sequence[Passage],
    embed_texts: Callable[[list[str]], list[list[float]]],
    threshold: float,
    max_sentences: int = 3,
    question: str = "",
) -> Answer:
    """Answer with the best sentences of the passages that score at least `threshold`.

    `passages` come best first (the retriever's order, which citations keep). `embed_texts` must
    return unit-length vectors from the same model as `question_vector`; the `question`'s words
    favour sentences that contain them. Each sentence is followed by the 1-based number of its
    citation, e.g. "... [2]". A passage without whole sentences (a table read line by line) answers
    with its lines.
    """
    evidence = select_evidence(passages, threshold)
    if not evidence:
        return Answer(answer=NOT_FOUND_ANSWER, grounded=False, citations=[])

    pieces = _candidates(evidence, answer_pieces)
    candidates = [(piece.text, number) for piece, number in pieces] or _candidates(evidence, _lines)
    if not candidates:
        candidates = [(" ".join(passage.text.split()), n) for n, passage in enumerate(evidence, start=1)]

    vectors = np.asarray(embed_texts([sentence for sentence, _ in candidates]), dtype=np.float32)
    sentence_scores = vectors @ np.asarray(question_vector, dtype=np.float32)
    passage_scores = np.asarray([evidence[number - 1].score for _, number in candidates])
    wanted = set(tokenize(question))
    word_scores = np.asarray([len(wanted.intersection(tokenize(s))) / max(len(wanted), 1) for s, _ in candidates])
    ranking = SENTENCE_WEIGHT * sentence_scores + PASSAGE_WEIGHT * passage_scores + WORDS_WEIGHT * word_scores

    chosen = choose_sentences(ranking, vectors, max_sentences)
    answer = " ".join(f"{candidates[i][0]} [{candidates[i][1]}]" for i in chosen)
    return Answer(answer=answer, grounded=True, citations=evidence)


def _candidates(evidence: Sequence[Passage], pieces: Callable[[str], list[T]]) -> list[tuple[T, int]]:
    """Each distinct piece of the evidence with the 1-based number of the first passage that holds it."""
    found: dict[T, int] = {}
    for number, passage in enumerate(evidence, start=1):
        for piece in pieces(passage.text):
            found.setdefault(piece, number)
    return list(found.items())


def select_evidence(passages: Sequence[Passage], threshold: float) -> list[Passage]:
    """The passages similar enough to the question to count as evidence, in the retriever's order,
    passages that repeat each other's text merged into one (see merge_overlapping)."""
    return merge_overlapping([passage for passage in passages if passage.score >= threshold])


def merge_overlapping(passages: Sequence[Passage], min_overlap: int = MIN_OVERLAP_CHARS) -> list[Passage]:
    """One source per stretch of text: a passage whose text another one contains is dropped, and
    neighbouring chunks of one page (the end of one is the start of the other) are joined. The
    merged passage takes the place of the first one and the better score.

    >>> a = Passage("d:1:0", "d", "a.pdf", 1, "Eight billion people. It grows more slowly every year.", 0.6)
    >>> b = Passage("d:1:1", "d", "a.pdf", 1, "It grows more slowly every year. The median age is 31.", 0.7)
    >>> merge_overlapping([a, b])
    [Passage(chunk_id='d:1:0', document_id='d', filename='a.pdf', page=1, text='Eight billion people. It grows more slowly every year. The median age is 31.', score=0.7, location='')]
    """
    merged: list[Passage] = []
    for passage in passages:
        for position, kept in enumerate(merged):
            joined = _joined(kept, passage, min_overlap)
            if joined is not None:
                merged[position] = joined
                break
        else:
            merged.append(passage)
    return merged


def _joined(kept: Passage, other: Passage, min_overlap: int) -> Passage | None:
    score = max(kept.score, other.score)
    if other.text in kept.text:
        return replace(kept, score=score)
    if kept.text in other.text:
        return replace(kept, text=other.text, score=score)
    if (kept.document_id, kept.page) != (other.document_id, other.page):
        return None
    if overlap := _overlap(kept.text, other.text, min_overlap):
        return replace(kept, text=kept.text + other.text[overlap:], score=score)
    if overlap := _overlap(other.text, kept.text, min_overlap):
        return replace(kept, text=other.text + kept.text[overlap:], score=score)
    return None


def _overlap(first: str, second: str, min_overlap: int) -> int:
    """How many characters at the end of `first` start `second` (0 if fewer than `min_overlap`)."""
    head = second[:min_overlap]
    if len(head) < min_overlap:
        return 0
    start = first.find(head)
    while start != -1:
        if second.startswith(first[start:]):
            return len(first) - start
        start = first.find(head, start + 1)
    return 0


# ---- generative answers ----------------------------------------------------------------------

# Streams the chat model's reply to these messages, piece by piece; raises GenerationFailed.
Generate = Callable[[Messages], Iterator[str]]

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources the user gives you. "
    "After every sentence of your answer, cite the source it comes from by its number in square "
    "brackets, for example [1] or [2][3]. Cite only the numbers of the sources given. "
    f"If the sources do not contain the answer, reply exactly: {NOT_FOUND_ANSWER}"
)
# Two worked exchanges before the real one: a small model copies their form (a cited answer, and the
# exact not-found reply) far more reliably than it follows the rules alone. With them
# Qwen2.5-Coder-1.5B-Instruct cited correctly or abstained on 7 of 10 test questions, 2 without (FACTS.md).
WORKED_EXAMPLES: Messages = [
    (
        "user",
        "Sources:\n\n[1] report.pdf, page 2:\nThe plant opened in 1998 in Lyon. It employs 240 people.\n\n"
        "[2] report.pdf, page 7:\nIn 2021 the plant produced 1.2 million bottles, up from 0.9 million in 2019.\n\n"
        "Question: How many bottles did the plant produce in 2021?",
    ),
    ("assistant", "The plant produced 1.2 million bottles in 2021 [2], up from 0.9 million in 2019 [2]."),
    (
        "user",
        "Sources:\n\n[1] guide.pdf, page 4:\nThe museum is open from Tuesday to Sunday, 10:00 to 18:00.\n\n"
        "Question: How much does a ticket to the museum cost?",
    ),
    ("assistant", NOT_FOUND_ANSWER),
]
# A citation marker longer than this is not one: the text after a lone "[" is let through.
MAX_MARKER_CHARS = 40
_MARKER = re.compile(
    r"(\s*)\[\s*(?:sources?\s*)?(\d+(?:\s*(?:[,;–-]|and)\s*(?:sources?\s*)?\d+)*)\s*\]", re.IGNORECASE
)
_RANGE = re.compile(r"(\d+)\s*[–-]\s*(\d+)|(\d+)")


class TokenSink(Protocol):
    """Where an answer goes while it is written (the query worker relays it to the client)."""

    def token(self, text: str) -> None: ...

    def reset(self, reason: str) -> None:
        """The text sent so far is withdrawn; the answer that replaces it follows."""


def build_messages(question: str, sources: Sequence[Passage], history: Sequence[tuple[str, str]] = ()) -> Messages:
    """The chat messages for a generative answer: rules, earlier turns, then numbered sources and question.

    >>> p = Passage("d:3:0", "d", "a.pdf", 3, "The median age is 31.", 0.7)
    >>> build_messages("How old?", [p])[-1][1]
    'Sources:\\n\\n[1] a.pdf, page 3:\\nThe median age is 31.\\n\\nQuestion: How old?'
    """
    numbered = "\n\n".join(
        f"[{number}] {source.filename}, {source.place}:\n{' '.join(source.text.split())}"
        for number, source in enumerate(sources, start=1)
    )
    return [("system", SYSTEM_PROMPT), *WORKED_EXAMPLES, *history, ("user", f"Sources:\n\n{numbered}\n\nQuestion: {question}")]


class CitationFilter:
    """Checks a model's citation markers as its text streams by.

    A marker citing a source that was not given is removed; the others are renumbered in order of
    first use, so "[k]" in the output means the k-th entry of `cited`. Text that may still become a
    marker (an open "[", trailing spaces) is held back until the next piece decides it.

    >>> f = CitationFilter(sources=3)
    >>> f.feed("Paris [3") + f.feed("] is big [9].") + f.feed(" Yes [3, 1]") + f.finish()
    'Paris [1] is big. Yes [1][2]'
    >>> f.cited
    [3, 1]
    """

    def __init__(self, sources: int) -> None:
        self._sources = sources
        self._pending = ""
        self.cited: list[int] = []

    def feed(self, text: str) -> str:
        self._pending += text
        cut = len(self._pending)
        opening = self._pending.rfind("[")
        if opening != -1 and "]" not in self._pending[opening:] and cut - opening <= MAX_MARKER_CHARS:
            cut = opening
        cut = len(self._pending[:cut].rstrip())
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return _MARKER.sub(self._rewrite, ready)

    def finish(self) -> str:
        rest, self._pending = self._pending, ""
        return _MARKER.sub(self._rewrite, rest)

    def _rewrite(self, marker: re.Match[str]) -> str:
        kept: list[int] = []
        for first, last, single in _RANGE.findall(marker.group(2)):
            numbers = range(int(first), int(last) + 1) if first else [int(single)]
            for number in numbers:
                if not 1 <= number <= self._sources:
                    continue
                if number not in self.cited:
                    self.cited.append(number)
                kept.append(self.cited.index(number) + 1)
        if not kept:
            return ""
        return marker.group(1) + "".join(f"[{n}]" for n in dict.fromkeys(kept))


def generative_answer(
    question: str,
    passages: Sequence[Passage],
    generate: Generate,
    threshold: float,
    history: Sequence[tuple[str, str]] = (),
    sink: TokenSink | None = None,
) -> Answer:
    """Ask the chat model to answer from the evidence, streaming its checked text to `sink`.

    Raises GenerationFailed when the model fails or cites none of its sources (a claim nobody can
    check is not an answer worth showing); the caller falls back to the extractive answer.
    """
    evidence = select_evidence(passages, threshold)
    if not evidence:
        return Answer(answer=NOT_FOUND_ANSWER, grounded=False, citations=[], mode="generative")
    checker = CitationFilter(len(evidence))
    written: list[str] = []
    for piece in generate(build_messages(question, evidence, history)):
        visible = checker.feed(piece)
        if visible:
            written.append(visible)
            if sink is not None:
                sink.token(visible)
    tail = checker.finish()
    if tail and sink is not None:
        sink.token(tail)
    text = ("".join(written) + tail).strip()
    if text.lower().startswith(NOT_FOUND_ANSWER.lower().rstrip(".")):
        return Answer(answer=NOT_FOUND_ANSWER, grounded=False, citations=[], mode="generative")
    if not checker.cited:
        raise GenerationFailed("uncited", "the model cited none of the sources it was given")
    return Answer(answer=text, grounded=True, citations=[evidence[n - 1] for n in checker.cited], mode="generative")
