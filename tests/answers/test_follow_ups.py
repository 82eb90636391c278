"""Follow-up questions through the real API and query worker: a conversation's third question, which
only makes sense after the first two, is made standalone before retrieval and answered from the right page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import openai
import pytest

from ragline.localstack import LocalStack
from tests.answers.conftest import ask

FIRST = "In which year did the world population reach one billion?"
SECOND = "And two billion?"
THIRD = "And three?"


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key="unused", timeout=120, max_retries=0) as sdk:
        yield sdk


def _chat(client: openai.OpenAI, messages: list[dict]) -> tuple[str, dict, str]:
    """The reply's content, its `ragline` details, and the text of every passage it cites."""
    completion = client.chat.completions.create(model="world", messages=messages)  # type: ignore[arg-type]
    extra = completion.model_extra or {}
    return completion.choices[0].message.content or "", extra["ragline"], _flat(c["text"] for c in extra["citations"])


def _flat(texts: Iterable[str]) -> str:
    """The texts joined, with the line breaks of PDF extraction made spaces."""
    return " ".join(" ".join(texts).split())


def test_a_three_turn_chat_answers_the_follow_up_of_a_follow_up(client: openai.OpenAI, world: dict) -> None:
    messages: list[dict] = [{"role": "user", "content": FIRST}]
    first, details, cited = _chat(client, messages)
    assert "1804" in first and details["standalone_question"] is None
    messages += [{"role": "assistant", "content": first}, {"role": "user", "content": SECOND}]
    second, details, cited = _chat(client, messages)
    assert details["standalone_question"] == "In which year did the world population reach two billion?"
    assert "two billion in 1927" in cited
    messages += [{"role": "assistant", "content": second}, {"role": "user", "content": THIRD}]
    third, details, cited = _chat(client, messages)
    assert details["standalone_question"] == "In which year did the world population reach three billion?"
    # Retrieval found the passage that answers (which sentences the extractive answer quotes is its own matter).
    assert "three billion in 1960" in cited and details["grounded"]
    assert "condense" in details["timings"]


def test_the_query_endpoint_takes_the_conversation_as_history(api, world: dict) -> None:  # noqa: ANN001 - httpx.Client
    history = [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "The world population reached one billion in 1804 [1]."},
        {"role": "user", "content": SECOND},
        {"role": "assistant", "content": "It reached two billion in 1927 [1]."},
    ]
    body = ask(api, "world", THIRD, history=history)
    assert body["standalone_question"] == "In which year did the world population reach three billion?"
    assert "three billion in 1960" in _flat(citation["text"] for citation in body["citations"])
    # Alone, the same words are not rewritten.
    assert ask(api, "world", THIRD)["standalone_question"] is None


def test_a_conversation_over_the_limits_is_refused(api, stack: LocalStack, world: dict) -> None:  # noqa: ANN001
    history = [{"role": "user", "content": "x" * 20_000}, {"role": "assistant", "content": "y" * 20_000}]
    response = api.post("/v1/collections/world/query", json={"question": THIRD, "history": history})
    assert response.status_code == 413
    assert response.json()["code"] == "conversation_too_long"
