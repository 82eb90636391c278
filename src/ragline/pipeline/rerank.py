"""Reranking: reorder the fused candidates before the first `top_k` become the evidence.

A reranker takes the question, its vector and the candidates (best first) and returns the same
passages in a new order. Three kinds:
- `sentence_rerank`: each passage's best sentence's similarity to the question, fused by reciprocal
  rank with the retrieval order (the passage-level vector blurs one answering sentence among others);
- `llm_rerank`: a chat model names the passages that answer, most relevant first;
- an HTTP `/rerank` service (TEI, Jina, Cohere; ragline.providers.rerank) through `scored_rerank`.
Each keeps the retrieval order for whatever it cannot decide.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

import numpy as np

from ragline.domain import GenerationFailed, Passage
from ragline.pipeline.answer import Generate, split_sentences
from ragline.pipeline.fusion import reciprocal_rank_fusion

logger = logging.getLogger(__name__)

# (question, question vector, candidates) -> the same candidates, reordered.
Rerank = Callable[[str, Sequence[float], Sequence[Passage]], list[Passage]]
# Sentences shorter than this are headings or table cells: they would match a question's words alone.
MIN_SENTENCE_CHARS = 25
# Of each passage, what the chat model reads to judge it: enough for the sentence that answers.
LLM_PASSAGE_CHARS = 500
LLM_RERANK_PROMPT = (
    "Which of the numbered passages answer the question? Reply with their numbers only, most relevant "
    "first, separated by commas (for example: 3, 1). Reply 0 if none does."
)


def sentence_rerank(embed_texts: Callable[[list[str]], list[list[float]]], rrf_k: int = 60) -> Rerank:
    """Fuse the retrieval order with the order of each passage's best sentence similarity (cosine).

    `embed_texts` returns unit-length vectors from the model of the question's vector.
    """

    def rerank(question: str, question_vector: Sequence[float], passages: Sequence[Passage]) -> list[Passage]:
        sentences = [[s for s in split_sentences(p.text) if len(s) >= MIN_SENTENCE_CHARS] or [p.text] for p in passages]
        flat = [sentence for group in sentences for sentence in group]
        if not flat:
            return list(passages)
        similarities = np.asarray(embed_texts(flat)) @ np.asarray(question_vector)
        best: list[float] = []
        start = 0
        for group in sentences:
            best.append(float(similarities[start : start + len(group)].max()))
            start += len(group)
        by_sentence = sorted(range(len(passages)), key=lambda n: -best[n])
        # The sentence order first: it wins the ties, the only news it brings when the two orders merely swap.
        order = reciprocal_rank_fusion([by_sentence, list(range(len(passages)))], k=rrf_k)
        return [passages[n] for n in order]

    return rerank


def llm_rerank(generate: Generate) -> Rerank:
    """Ask the chat model which passages answer; those it names come first, in its order.

    A model that fails or names none leaves the retrieval order as it was: reranking is an
    improvement, never a reason for no answer.
    """

    def rerank(question: str, question_vector: Sequence[float], passages: Sequence[Passage]) -> list[Passage]:
        numbered = "\n\n".join(
            f"[{number}] {' '.join(p.text.split())[:LLM_PASSAGE_CHARS]}" for number, p in enumerate(passages, start=1)
        )
        messages = [("system", LLM_RERANK_PROMPT), ("user", f"Passages:\n\n{numbered}\n\nQuestion: {question}")]
        reply = ""
        try:
            for piece in generate(messages):
                reply += piece
                if "\n" in reply.strip() or len(reply) > 80:
                    break  # the numbers are on the first line; stop the model writing more
        except GenerationFailed as exc:
            logger.warning("llm rerank failed, keeping the retrieval order reason=%s", exc.reason)
            return list(passages)
        return ranked_first(passages, [int(n) - 1 for n in re.findall(r"\d+", reply.strip().split("\n")[0])])

    return rerank


def scored_rerank(score: Callable[[str, list[str]], list[float]]) -> Rerank:
    """A reranker from a relevance scorer (one score per text, higher is better; GenerationFailed when it
    cannot score), such as a rerank service."""

    def rerank(question: str, question_vector: Sequence[float], passages: Sequence[Passage]) -> list[Passage]:
        try:
            scores = score(question, [p.text for p in passages])
        except GenerationFailed as exc:
            logger.warning("rerank service failed, keeping the retrieval order reason=%s detail=%s", exc.reason, exc)
            return list(passages)
        return [passages[n] for n in sorted(range(len(passages)), key=lambda n: -scores[n])]

    return rerank


def ranked_first(passages: Sequence[Passage], positions: Sequence[int]) -> list[Passage]:
    """The passages at `positions` (0-based, repeats and strays ignored) first, then the others in their order.

    >>> p = [Passage(str(n), "d", "a.pdf", n, "t", 0.5) for n in range(3)]
    >>> [x.chunk_id for x in ranked_first(p, [2, 7, 2])]
    ['2', '0', '1']
    """
    chosen = list(dict.fromkeys(n for n in positions if 0 <= n < len(passages)))
    return [passages[n] for n in chosen] + [p for n, p in enumerate(passages) if n not in chosen]
