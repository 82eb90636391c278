"""Answers from retrieved passages, each claim cited by the number of its passage.

Extractive: the passages' sentences closest to the question. Generative: a chat model writes the
answer from numbered sources; its citations are checked against the sources it was given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from ragline.domain import GenerationFailed, Messages, Passage
from ragline.pipeline.lexical import tokenize

NOT_FOUND_ANSWER = "Not found in the documents."
# Sentences shorter than this are headings, list markers or table cells, not answers.
MIN_SENTENCE_CHARS = 25
MAX_SENTENCE_CHARS = 600
# Longer "sentences" are tables or text without punctuation: they compete as overlapping windows
# of this many words (half a window apart) instead of being left out.
WINDOW_WORDS = 40
# How a sentence is ranked: its own similarity to the question, its passage's, and the share of the
# question's words it contains (names and numbers that embeddings blur). Tuned with bench/eval.py.
SENTENCE_WEIGHT = 0.5
PASSAGE_WEIGHT = 0.2
WORDS_WEIGHT = 0.3

# A sentence runs to . ! or ? (and any closing quotes or brackets) followed by whitespace and
# something that can start a sentence, or to the end of the text.
_SENTENCE = re.compile(r"\S.*?(?:[.!?][\"')\]]*(?=\s+[\"'(]?[A-Z0-9])|$)")
# Reference marks such as "[12]" (encyclopedias, papers) are noise in an answer.
_REFERENCE_MARK = re.compile(r"\[\d+\]")


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


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, joining the line breaks PDF extraction leaves inside them.

    >>> split_sentences("The world has 8 billion people. It grows\\nslowly now.")
    ['The world has 8 billion people.', 'It grows slowly now.']
    """
    flat = " ".join(_REFERENCE_MARK.sub("", text).split())
    return [match.group(0).strip() for match in _SENTENCE.finditer(flat)]


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
    citation, e.g. "... [2]".
    """
    evidence = select_evidence(passages, threshold)
    if not evidence:
        return Answer(answer=NOT_FOUND_ANSWER, grounded=False, citations=[])

    candidates = [
        (sentence, number) for number, passage in enumerate(evidence, start=1) for sentence in _answer_pieces(passage.text)
    ]
    if not candidates:
        candidates = [(" ".join(passage.text.split()), n) for n, passage in enumerate(evidence, start=1)]

    sentence_scores = np.asarray(embed_texts([sentence for sentence, _ in candidates])) @ np.asarray(question_vector)
    passage_scores = np.asarray([evidence[number - 1].score for _, number in candidates])
    wanted = set(tokenize(question))
    word_scores = np.asarray([len(wanted.intersection(tokenize(s))) / max(len(wanted), 1) for s, _ in candidates])
    ranking = SENTENCE_WEIGHT * sentence_scores + PASSAGE_WEIGHT * passage_scores + WORDS_WEIGHT * word_scores

    chosen: list[str] = []
    seen: set[str] = set()
    for position in np.argsort(-ranking):
        sentence, number = candidates[int(position)]
        if sentence in seen:
            continue
        seen.add(sentence)
        chosen.append(f"{sentence} [{number}]")
        if len(chosen) == max_sentences:
            break
    return Answer(answer=" ".join(chosen), grounded=True, citations=evidence)


def _answer_pieces(text: str) -> list[str]:
    """The sentences of a passage that can answer, long ones cut into overlapping windows.

    >>> [len(p.split()) for p in _answer_pieces(" ".join(["cell"] * 190))]
    [40, 40, 40, 40, 40, 40, 40, 40, 30]
    """
    pieces: list[str] = []
    for sentence in split_sentences(text):
        if len(sentence) <= MAX_SENTENCE_CHARS:
            if len(sentence) >= MIN_SENTENCE_CHARS:
                pieces.append(sentence)
            continue
        words = sentence.split()
        step = WINDOW_WORDS // 2
        pieces.extend(" ".join(words[start : start + WINDOW_WORDS]) for start in range(0, max(len(words) - step, 1), step))
    return pieces


def select_evidence(passages: Sequence[Passage], threshold: float) -> list[Passage]:
    """The passages similar enough to the question to count as evidence, in the retriever's order."""
    return [passage for passage in passages if passage.score >= threshold]


# ---- generative answers ----------------------------------------------------------------------

# Streams the chat model's reply to these messages, piece by piece; raises GenerationFailed.
Generate = Callable[[Messages], Iterator[str]]

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources the user gives you. "
    "After every sentence of your answer, cite the source it comes from by its number in square "
    "brackets, for example [1] or [2][3]. Cite only the numbers of the sources given. "
    f"If the sources do not contain the answer, reply exactly: {NOT_FOUND_ANSWER}"
)
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
        f"[{number}] {source.filename}, page {source.page}:\n{' '.join(source.text.split())}"
        for number, source in enumerate(sources, start=1)
    )
    return [("system", SYSTEM_PROMPT), *history, ("user", f"Sources:\n\n{numbered}\n\nQuestion: {question}")]


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
