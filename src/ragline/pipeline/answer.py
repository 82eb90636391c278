"""Extractive answers: the sentences of the retrieved passages closest to the question, each cited."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

NOT_FOUND_ANSWER = "Not found in the documents."
# Sentences shorter than this are headings, list markers or table cells, not answers.
MIN_SENTENCE_CHARS = 25
MAX_SENTENCE_CHARS = 600
# How much a sentence's own similarity counts against its passage's when ranking sentences.
SENTENCE_WEIGHT = 0.7

# A sentence runs to . ! or ? (and any closing quotes or brackets) followed by whitespace and
# something that can start a sentence, or to the end of the text.
_SENTENCE = re.compile(r"\S.*?(?:[.!?][\"')\]]*(?=\s+[\"'(]?[A-Z0-9])|$)")
# Reference marks such as "[12]" (encyclopedias, papers) are noise in an answer.
_REFERENCE_MARK = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its similarity to the question (cosine, higher is closer)."""

    chunk_id: str
    document_id: str
    filename: str
    page: int
    text: str
    score: float


@dataclass(frozen=True)
class Answer:
    answer: str
    grounded: bool
    citations: list[Passage]


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
) -> Answer:
    """Answer with the best sentences of the passages that score at least `threshold`.

    `embed_texts` must return unit-length vectors from the same model as `question_vector`.
    Each sentence is followed by the 1-based number of its citation, e.g. "... [2]".
    """
    evidence = sorted((p for p in passages if p.score >= threshold), key=lambda p: p.score, reverse=True)
    if not evidence:
        return Answer(answer=NOT_FOUND_ANSWER, grounded=False, citations=[])

    candidates = [
        (sentence, number)
        for number, passage in enumerate(evidence, start=1)
        for sentence in split_sentences(passage.text)
        if MIN_SENTENCE_CHARS <= len(sentence) <= MAX_SENTENCE_CHARS
    ]
    if not candidates:
        candidates = [(" ".join(passage.text.split()), n) for n, passage in enumerate(evidence, start=1)]

    sentence_scores = np.asarray(embed_texts([sentence for sentence, _ in candidates])) @ np.asarray(question_vector)
    passage_scores = np.asarray([evidence[number - 1].score for _, number in candidates])
    ranking = SENTENCE_WEIGHT * sentence_scores + (1 - SENTENCE_WEIGHT) * passage_scores

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
