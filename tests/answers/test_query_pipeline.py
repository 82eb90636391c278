from collections.abc import Iterator, Sequence

import pytest

from ragline.config import Settings
from ragline.domain import GenerationFailed, Messages, Passage, PassageFilter
from ragline.pipeline.answer import WORKED_EXAMPLES, Generate
from ragline.pipeline.query import QueryOptions, answer_question
from ragline.pipeline.retrieve import Retriever
from ragline.providers.embeddings import LocalMiniLM
from tests.answers.test_generative import Recorder

pytestmark = pytest.mark.unit

PASSAGES = [
    Passage("w:1:0", "w", "world.pdf", 1, "The median age of human beings as of 2020 is 31 years. It rises.", 0.7),
    Passage("w:3:0", "w", "world.pdf", 3, "Asia is the most populous continent with 4.64 billion people.", 0.5),
]
RETRIEVER = Retriever(
    vector_search=lambda vector, n, passage_filter: PASSAGES[:n],
    lexical_search=lambda question, n, passage_filter: [],
    score=lambda chunk_ids, vector: [],
)
QUESTION = "What is the median age of human beings?"


@pytest.fixture(scope="module")
def embedder() -> LocalMiniLM:
    return LocalMiniLM(Settings().embedding_model_name)


def _generative(**changes: object) -> QueryOptions:
    return QueryOptions(top_k=5, threshold=0.3, mode="generative", **changes)


def _failing_after(*pieces: str, reason: str):  # noqa: ANN202 - a Generate
    def generate(messages: Messages) -> Iterator[str]:
        yield from pieces
        raise GenerationFailed(reason, "scripted failure")

    return generate


def test_extractive_answer_streams_once_and_reports_timings(embedder: LocalMiniLM) -> None:
    sink = Recorder()
    answer = answer_question(QUESTION, embedder, RETRIEVER, QueryOptions(top_k=5, threshold=0.3), sink=sink)
    assert answer.mode == "extractive" and answer.grounded
    assert "31 years. [1]" in answer.answer
    assert sink.events == [("token", answer.answer)]
    assert set(answer.timings) == {"embed", "retrieve", "answer"}


def test_generative_without_a_model_falls_back_marked_as_such(embedder: LocalMiniLM) -> None:
    extractive = answer_question(QUESTION, embedder, RETRIEVER, QueryOptions(top_k=5, threshold=0.3))
    sink = Recorder()
    answer = answer_question(QUESTION, embedder, RETRIEVER, _generative(), generate=None, sink=sink)
    assert (answer.mode, answer.fallback_reason) == ("extractive_fallback", "not_configured")
    assert (answer.answer, answer.citations) == (extractive.answer, extractive.citations)
    assert sink.events == [("token", answer.answer)]


@pytest.mark.parametrize(
    ("generate", "reason", "withdrawn"),
    [
        (_failing_after("Half an ans", "wer [1]", reason="timeout"), "timeout", True),
        (_failing_after(reason="unavailable"), "unavailable", False),
        (lambda messages: iter(["No source [9]."]), "uncited", True),
    ],
    ids=["timeout-mid-answer", "unreachable", "uncited"],
)
def test_failed_generation_withdraws_what_was_sent_then_sends_the_extractive_answer(
    embedder: LocalMiniLM, generate: Generate, reason: str, withdrawn: bool
) -> None:
    sink = Recorder()
    answer = answer_question(QUESTION, embedder, RETRIEVER, _generative(), generate=generate, sink=sink)
    assert (answer.mode, answer.fallback_reason, answer.grounded) == ("extractive_fallback", reason, True)
    assert sink.events[-1] == ("token", answer.answer)
    resets = [event for event in sink.events if event[0] == "reset"]
    assert resets == ([("reset", reason)] if withdrawn else [])
    if withdrawn:
        assert sink.events[-2] == ("reset", reason)
        assert sink.events[0][0] == "token" and sink.events[0] != sink.events[-1]


def test_history_reaches_the_model_and_filters_reach_retrieval(embedder: LocalMiniLM) -> None:
    seen: list[Messages] = []
    filters: list[PassageFilter] = []

    def generate(messages: Messages) -> Iterator[str]:
        seen.append(messages)
        yield "It is 31 years [1]."

    def vector_search(vector: Sequence[float], n: int, passage_filter: PassageFilter) -> list[Passage]:
        filters.append(passage_filter)
        return PASSAGES[:1]

    only = PassageFilter(page_ranges=((1, 1),))
    # The question stands alone, so the rules leave it as it is; the model is asked once, to answer.
    history = (("user", "Earlier question"), ("assistant", "Earlier answer"))
    options = _generative(history=history, passage_filter=only, condense_with_model=False)
    answer = answer_question(QUESTION, embedder, Retriever(vector_search, RETRIEVER.lexical_search, RETRIEVER.score), options, generate)
    assert answer.mode == "generative" and answer.answer == "It is 31 years [1]."
    examples = len(WORKED_EXAMPLES)
    assert len(seen) == 1 and seen[0][1 + examples : 3 + examples] == list(history)
    assert answer.standalone_question is None and "condense" in answer.timings
    assert filters == [only]
