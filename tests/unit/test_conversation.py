"""Follow-ups made standalone: by rules without a model, by the chat model when it gives a usable rewrite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragline.domain import GenerationFailed, Messages
from ragline.pipeline.conversation import condense, condense_by_rules

EUROPE = [("user", "What was the population of Europe in 1340?"), ("assistant", "About 75 million [1].")]


@pytest.mark.parametrize(
    ("question", "standalone"),
    [
        ("And in 1400?", "What was the population of Europe in 1400?"),
        ("what about 1500", "What was the population of Europe in 1500?"),
        ("And Asia?", "What was the population of Europe in 1340, Asia?"),
        ("How many people lived there in 1900?", "How many people lived there in 1900? (What was the population of Europe in 1340?)"),
        ("Who wrote Pride and Prejudice?", "Who wrote Pride and Prejudice?"),
        ("When did the plague reach England?", "When did the plague reach England?"),
    ],
)
def test_rules_rewrite_follow_ups_and_leave_standalone_questions(question: str, standalone: str) -> None:
    assert condense_by_rules(question, EUROPE) == standalone


def test_rules_carry_the_subject_through_a_chain_of_follow_ups() -> None:
    history = [("user", "When did the world population reach one billion?"), ("assistant", "1804"), ("user", "And two billion?")]
    assert condense_by_rules("And three?", history) == "When did the world population reach three billion?"


def test_without_earlier_user_turns_the_question_stands_alone_and_no_model_is_asked() -> None:
    def never(messages: Messages) -> Iterator[str]:
        raise AssertionError("the model was asked")

    assert condense("And in 2050?", [("assistant", "Hello")], never) == "And in 2050?"


def test_the_models_rewrite_is_used_when_it_is_usable() -> None:
    asked: list[Messages] = []

    def rewrite(messages: Messages) -> Iterator[str]:
        asked.append(messages)
        yield from ['"What was the population', ' of Asia in 1340?"']

    assert condense("And Asia?", EUROPE, rewrite) == "What was the population of Asia in 1340?"
    assert "Last message: And Asia?" in asked[0][-1][1] and "Europe in 1340" in asked[0][-1][1]


def test_a_failing_or_rambling_model_leaves_the_rules_answer() -> None:
    def failing(messages: Messages) -> Iterator[str]:
        raise GenerationFailed("timeout")
        yield ""

    def rambling(messages: Messages) -> Iterator[str]:
        yield "Sure! " * 200

    expected = condense_by_rules("And in 1400?", EUROPE)
    assert condense("And in 1400?", EUROPE, failing) == expected
    assert condense("And in 1400?", EUROPE, rambling) == expected
    assert condense("And in 1400?", EUROPE, lambda messages: iter([""])) == expected
