"""Lexical retrieval: Okapi BM25 over a collection's chunk texts, built in memory from plain data.

Embeddings miss exact tokens that carry an answer (names, numbers, codes such as "AD 2018-23-51");
BM25 scores them, and reciprocal rank fusion (pipeline/fusion.py) merges both rankings.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

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


def tokenize(text: str) -> list[str]:
    """Lower-cased words without stopwords, possessives or plural endings.

    >>> tokenize("The world's populations grew; cities' densities too")
    ['world', 'population', 'grew', 'city', 'density']
    """
    return [_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


def _stem(word: str) -> str:
    word = re.sub(r"['’]s?$", "", word)
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class LexicalIndex:
    """BM25 over chunk texts; `search` returns chunk ids, best first.

    >>> index = LexicalIndex([LexicalEntry("d:1:0", "d", 1, "MCAS trims the stabilizer"),
    ...                       LexicalEntry("d:2:0", "d", 2, "The stick shaker warns of a stall")])
    >>> index.search("What does MCAS do?", 5)
    ['d:1:0']
    """

    def __init__(self, entries: Sequence[LexicalEntry]) -> None:
        self.entries = list(entries)
        lengths = np.zeros(len(self.entries), dtype=np.float32)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for position, entry in enumerate(self.entries):
            counts = Counter(tokenize(entry.text))
            lengths[position] = sum(counts.values())
            for term, count in counts.items():
                postings[term].append((position, count))
        average = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
        self._norm = K1 * (1 - B + B * lengths / average)
        self._postings = {
            term: (np.fromiter((p for p, _ in hits), dtype=np.int64), np.fromiter((c for _, c in hits), dtype=np.float32))
            for term, hits in postings.items()
        }
        total = len(self.entries)
        # Lucene's idf: never negative, so a term in most chunks still counts a little instead of against.
        self._idf = {term: math.log(1 + (total - len(hits[0]) + 0.5) / (len(hits[0]) + 0.5)) for term, hits in self._postings.items()}

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, query: str, n: int, keep: Callable[[LexicalEntry], bool] | None = None) -> list[str]:
        """The `n` best chunks that contain at least one query term (and pass `keep`), best first."""
        scores = np.zeros(len(self.entries), dtype=np.float32)
        for term in set(tokenize(query)):
            if term not in self._postings:
                continue
            positions, counts = self._postings[term]
            scores[positions] += self._idf[term] * counts * (K1 + 1) / (counts + self._norm[positions])
        ranked: list[str] = []
        for position in np.argsort(-scores, kind="stable"):
            if scores[position] <= 0 or len(ranked) == n:
                break
            entry = self.entries[int(position)]
            if keep is None or keep(entry):
                ranked.append(entry.chunk_id)
        return ranked
