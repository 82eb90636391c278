"""Generative answers through a real llama.cpp server: citations checked, failures fall back, marked."""

import os
import re
import signal

import httpx

from ragline.localstack import LocalStack
from tests.answers.conftest import LLM_TIMEOUT_SECONDS, ask


def _signal_model_server(stack: LocalStack, sig: signal.Signals) -> None:
    process = stack.service("llm").process
    assert process is not None
    os.killpg(process.pid, sig)


def test_generated_answer_cites_only_retrieved_passages_or_is_replaced(api: httpx.Client, world: dict) -> None:
    question = "What share of the world population lives in extreme poverty?"
    extractive = ask(api, "world", question, top_k=2)
    body = ask(api, "world", question, top_k=2, mode="generative")
    # The model answered (this is no outage): either with valid citations or, citing none, not at all.
    assert body["mode"] in ("generative", "extractive_fallback")
    assert body["fallback_reason"] in (None, "uncited")
    retrieved = {c["chunk_id"] for c in extractive["citations"]}
    if body["mode"] == "generative":
        assert body["grounded"] and body["citations"]
        assert {c["chunk_id"] for c in body["citations"]} <= retrieved
        numbers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
        assert numbers == set(range(1, len(body["citations"]) + 1))
    else:
        assert (body["answer"], body["citations"]) == (extractive["answer"], extractive["citations"])
    assert body["timings"]["answer"] > 0


def test_model_server_down_gives_the_extractive_answer_marked_as_fallback(
    api: httpx.Client, world: dict, stack: LocalStack
) -> None:
    question = "What was the population of Europe in 1340?"
    extractive = ask(api, "world", question, top_k=2)
    _signal_model_server(stack, signal.SIGKILL)
    stack.service("llm").process.wait()  # type: ignore[union-attr]
    try:
        body = ask(api, "world", question, top_k=2, mode="generative")
    finally:
        stack.restart("llm")
    assert (body["mode"], body["fallback_reason"]) == ("extractive_fallback", "unavailable")
    assert (body["answer"], body["grounded"], body["citations"]) == (extractive["answer"], True, extractive["citations"])
    # An outage's answer is not cached: with the model back, the question is answered afresh.
    again = ask(api, "world", question, top_k=2, mode="generative")
    assert again["cached"] is False
    assert again["fallback_reason"] in (None, "uncited")


def test_hung_model_server_times_out_into_the_extractive_answer(api: httpx.Client, world: dict, stack: LocalStack) -> None:
    # SIGSTOP: the kernel still accepts the connection, nobody answers, as with a wedged server.
    _signal_model_server(stack, signal.SIGSTOP)
    try:
        body = ask(api, "world", "What was England's population in 1650?", top_k=2, mode="generative")
    finally:
        _signal_model_server(stack, signal.SIGCONT)
    assert (body["mode"], body["fallback_reason"], body["grounded"]) == ("extractive_fallback", "timeout", True)
    assert "5.6 million" in body["answer"]
    assert LLM_TIMEOUT_SECONDS <= body["timings"]["answer"] < LLM_TIMEOUT_SECONDS + 10
