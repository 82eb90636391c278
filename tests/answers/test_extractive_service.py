"""The demo's question through the real service: an answer of whole sentences, each source distinct."""

import hashlib
import itertools
import re

import httpx
import redis

from ragline.config import Settings
from ragline.localstack import LocalStack
from ragline.pipeline.answer import MIN_OVERLAP_CHARS, is_sentence
from ragline.stores import keys
from tests.answers.conftest import ask

DEMO_QUESTION = "What is the median age of human beings?"
# The article's headings and captions around the passages this question retrieves.
HEADINGS = ("Mathematical approximations", "Years for world population to double", "Number of humans who have ever lived")
_CITATION_MARK = re.compile(r"\s*\[\d+\]")


def _sentences(answer: str) -> list[str]:
    return [part.strip() for part in _CITATION_MARK.split(answer) if part.strip()]


def test_the_demo_question_reads_as_whole_sentences_from_distinct_sources(api: httpx.Client, world: dict) -> None:
    body = ask(api, "world", DEMO_QUESTION, retrieval="hybrid")
    assert body["grounded"] and "31 years" in body["answer"]
    sentences = _sentences(body["answer"])
    assert sentences and all(is_sentence(sentence) for sentence in sentences), sentences
    assert len(set(sentences)) == len(sentences)
    assert not any(heading in body["answer"] for heading in HEADINGS), body["answer"]
    texts = [" ".join(citation["text"].split()) for citation in body["citations"]]
    for first, second in itertools.permutations(texts, 2):
        # No source repeats another's text: neither contains the other, and none starts with the other's end.
        assert first not in second
        assert not second.startswith(first[-MIN_OVERLAP_CHARS:]), (first, second)


def test_the_answers_sentences_are_embedded_once_into_the_embedding_cache(
    api: httpx.Client, world: dict, stack: LocalStack
) -> None:
    body = ask(api, "world", "How old is the median human being?", retrieval="hybrid")
    assert body["grounded"]
    client = redis.Redis.from_url(stack.redis_url)
    try:
        model = Settings().embedding_model_name
        cached = [
            client.exists(keys.embedding_cache(model, hashlib.sha256(sentence.encode()).hexdigest()))
            for sentence in _sentences(body["answer"])
        ]
    finally:
        client.close()
    assert cached and all(cached)
