from collections.abc import Iterator

import pytest

from ragline.domain import GenerationFailed, Messages, Passage
from ragline.pipeline.answer import (
    NOT_FOUND_ANSWER,
    SYSTEM_PROMPT,
    WORKED_EXAMPLES,
    CitationFilter,
    build_messages,
    generative_answer,
)

pytestmark = pytest.mark.unit


def _passage(page: int, text: str, score: float = 0.6) -> Passage:
    return Passage(chunk_id=f"doc:{page}:0", document_id="doc", filename="world.pdf", page=page, text=text, score=score)


SOURCES = [
    _passage(1, "The median age of human beings as of 2020 is 31 years."),
    _passage(3, "Asia is the most populous continent.\nIt has 4.64 billion inhabitants."),
    _passage(7, "Bread needs flour.", score=0.1),
]


class Recorder:
    """A token sink that keeps what it was sent."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def token(self, text: str) -> None:
        self.events.append(("token", text))

    def reset(self, reason: str) -> None:
        self.events.append(("reset", reason))


def _scripted(*pieces: str, seen: list[Messages] | None = None):  # noqa: ANN202 - a Generate
    def generate(messages: Messages) -> Iterator[str]:
        if seen is not None:
            seen.append(messages)
        yield from pieces

    return generate


def _stream(sources: int, pieces: list[str]) -> tuple[str, list[int]]:
    checker = CitationFilter(sources)
    text = "".join(checker.feed(piece) for piece in pieces) + checker.finish()
    return text, checker.cited


def test_prompt_numbers_the_sources_with_file_and_page_after_rules_examples_and_history() -> None:
    history = (("user", "Hi"), ("assistant", "Hello [1]"))
    messages = build_messages("How old are people?", SOURCES[:2], history)
    examples = len(WORKED_EXAMPLES)
    assert messages[0] == ("system", SYSTEM_PROMPT)
    assert messages[1 : 1 + examples] == WORKED_EXAMPLES
    assert messages[1 + examples : 3 + examples] == list(history)
    role, prompt = messages[3 + examples]
    assert role == "user"
    assert prompt.startswith("Sources:\n\n[1] world.pdf, page 1:\nThe median age")
    assert "\n\n[2] world.pdf, page 3:\nAsia is the most populous continent. It has 4.64 billion" in prompt
    assert "[3]" not in prompt
    assert prompt.endswith("Question: How old are people?")


@pytest.mark.parametrize(
    ("pieces", "text", "cited"),
    [
        (["Age is 31 [1]."], "Age is 31 [1].", [1]),
        (["Age is 31 [", "2", "]. Asia [1]."], "Age is 31 [1]. Asia [2].", [2, 1]),
        (["Invented [4]. Real [2]."], "Invented. Real [1].", [2]),
        (["Zero [0] and huge [99] go", "."], "Zero and huge go.", []),
        (["Both [1, 2]", " and [Source 2] and [2-3]"], "Both [1][2] and [2] and [2]", [1, 2]),
        (["A list [a] and [see note] stay."], "A list [a] and [see note] stay.", []),
        (["Unclosed [1"], "Unclosed [1", []),
    ],
)
def test_citations_are_checked_and_renumbered_however_the_stream_splits_them(pieces: list[str], text: str, cited: list[int]) -> None:
    assert _stream(2, pieces) == (text, cited)
    assert _stream(2, list("".join(pieces))) == (text, cited)


def test_generated_answer_cites_only_the_sources_it_was_given() -> None:
    seen: list[Messages] = []
    sink = Recorder()
    generate = _scripted("People are 31 years old [1]", " and Asia has 4.64 billion [2][3].", seen=seen)
    answer = generative_answer("q", SOURCES, generate, threshold=0.3, sink=sink)
    assert answer.mode == "generative" and answer.grounded
    assert answer.answer == "People are 31 years old [1] and Asia has 4.64 billion [2]."
    assert [c.page for c in answer.citations] == [1, 3]
    # The passage below the threshold was never shown to the model, so [3] was an invention.
    assert "[3] world.pdf, page 7" not in seen[0][-1][1]
    assert "".join(text for kind, text in sink.events if kind == "token") == answer.answer


def test_citations_follow_the_order_the_answer_first_uses_them() -> None:
    answer = generative_answer("q", SOURCES, _scripted("Asia [2]. Age [1]. Asia again [2]."), threshold=0.3)
    assert answer.answer == "Asia [1]. Age [2]. Asia again [1]."
    assert [c.page for c in answer.citations] == [3, 1]


def test_model_saying_not_found_is_not_grounded() -> None:
    answer = generative_answer("q", SOURCES, _scripted("Not found in the documents", "."), threshold=0.3)
    assert (answer.answer, answer.grounded, answer.citations, answer.mode) == (NOT_FOUND_ANSWER, False, [], "generative")


def test_no_evidence_means_no_model_call() -> None:
    seen: list[Messages] = []
    answer = generative_answer("q", SOURCES, _scripted("made up [1]", seen=seen), threshold=0.9)
    assert answer.answer == NOT_FOUND_ANSWER and not answer.grounded
    assert seen == []


def test_an_answer_without_a_valid_citation_is_refused() -> None:
    with pytest.raises(GenerationFailed) as failure:
        generative_answer("q", SOURCES, _scripted("Paris is lovely [7]."), threshold=0.3)
    assert failure.value.reason == "uncited"


def test_the_worked_examples_show_a_cited_answer_and_the_exact_not_found_reply() -> None:
    replies = [text for role, text in WORKED_EXAMPLES if role == "assistant"]
    assert NOT_FOUND_ANSWER in replies
    cited = next(reply for reply in replies if reply != NOT_FOUND_ANSWER)
    checker = CitationFilter(sources=2)
    checker.feed(cited)
    checker.finish()
    assert checker.cited == [2]
