"""The answer cache in the real Redis: keyed by collection generation, question and options."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from ragline.localstack import LocalStack
from ragline.tasks import names
from tests.answers.conftest import ask, ingest
from tests.conftest import scrape, value, wait_until

SAME_PARTS = ("answer", "grounded", "citations", "mode", "fallback_reason", "retrieval")


def test_a_repeated_question_is_answered_from_the_cache(api: httpx.Client, world: dict) -> None:
    question = "Which continent is the most populous?"
    first = ask(api, "world", question)
    second = ask(api, "world", "  Which continent is   the most populous?  ")
    assert (first["cached"], second["cached"]) == (False, True)
    assert {k: second[k] for k in SAME_PARTS} == {k: first[k] for k in SAME_PARTS}
    # A cached reply's only timing is its own.
    assert set(second["timings"]) == {"total"}
    assert second["timings"]["total"] < first["timings"]["total"]


def test_other_options_are_other_answers(api: httpx.Client, world: dict) -> None:
    question = "How many humans have ever lived?"
    assert ask(api, "world", question)["cached"] is False
    assert ask(api, "world", question, top_k=2)["cached"] is False
    assert ask(api, "world", question, retrieval="vector")["cached"] is False
    assert ask(api, "world", question, filters={"page_ranges": [{"first": 13, "last": 14}]})["cached"] is False
    assert ask(api, "world", question, top_k=2)["cached"] is True


def test_ingest_and_delete_in_the_collection_make_cached_answers_stale(api: httpx.Client, world: dict, samples: Path) -> None:
    question = "How many NICS firearm background checks were there in Texas?"
    ingest(api, "cache-gen", samples / "fbi_nics_checks_2015_11_table.pdf")
    assert ask(api, "cache-gen", question)["cached"] is False
    assert ask(api, "cache-gen", question)["cached"] is True
    unrelated = ask(api, "world", "What is the global sex ratio in 2020?")

    added = ingest(api, "cache-gen", samples / "federal_register_2020_17221_three_column.pdf")
    after_ingest = ask(api, "cache-gen", question)
    assert after_ingest["cached"] is False
    assert ask(api, "cache-gen", question)["cached"] is True
    # Another collection's generation did not move.
    assert ask(api, "world", "What is the global sex ratio in 2020?")["cached"] is True and unrelated["cached"] is False

    response = api.delete(f"/v1/collections/cache-gen/documents/{added['document_id']}")
    assert response.status_code == 204
    after_delete = ask(api, "cache-gen", question)
    assert after_delete["cached"] is False
    assert {c["filename"] for c in after_delete["citations"]} == {"fbi_nics_checks_2015_11_table.pdf"}


def test_a_burst_of_one_question_costs_one_answer(api: httpx.Client, stack: LocalStack, world: dict) -> None:
    """Identical questions asked together wait for the first one's answer instead of each queueing its own."""
    question = "What share of the world population lives in Asia?"
    askers = 6
    worker = stack.service("query-worker").process
    misses_before, answered_before = _answer_cache_misses(stack), _questions_answered(stack)
    # A paused worker keeps every request in flight until all of them have looked the question up.
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(askers) as pool:
            replies = [pool.submit(ask, api, "world", question) for _ in range(askers)]
            wait_until(lambda: _answer_cache_misses(stack) - misses_before >= askers, 30, "every request to miss the cache")
            os.killpg(worker.pid, signal.SIGCONT)
            answers = [reply.result() for reply in replies]
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    assert _questions_answered(stack) - answered_before == 1
    assert sorted(answer["cached"] for answer in answers) == [False] + [True] * (askers - 1)
    assert len({(answer["answer"], str(answer["citations"])) for answer in answers}) == 1


def _answer_cache_misses(stack: LocalStack) -> float:
    return value(scrape(f"{stack.api_url}/metrics"), "ragline_cache_requests_total", cache="answer", result="miss")


def _questions_answered(stack: LocalStack) -> float:
    samples = scrape(stack.metrics_urls()["query-worker"])
    return value(samples, "ragline_task_duration_seconds_count", task=names.QUERY_TASK, outcome="success")

