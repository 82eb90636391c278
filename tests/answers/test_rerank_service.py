"""The HTTP rerank client against a rerank server in its own process (tests/answers/rerank_server.py: a
minimal server written for the tests that implements the Cohere/Jina and TEI APIs; no real one installs offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing

import pytest

from ragline.localstack import free_port, http_ok
from ragline.domain import GenerationFailed, Passage
from ragline.pipeline.rerank import scored_rerank
from ragline.providers.rerank import HttpReranker
from tests.conftest import ARTIFACTS, wait_until

KEY = "rerank-test-key-0123"
TEXTS = ["It rained all day in Lyon.", "Jane Austen wrote Pride and Prejudice in 1813.", "Pride and Prejudice is set in Hertfordshire."]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "logs" / "rerank-server.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.answers.rerank_server:app", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RERANK_API_KEY": KEY},
        )
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/docs"), 60, "the rerank server")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.parametrize(("api", "path"), [("cohere", "/v1/rerank"), ("tei", "/rerank")])
def test_scores_come_back_in_the_order_of_the_texts(server: str, api: str, path: str) -> None:
    with closing(HttpReranker(server + path, api=api, model="rerank-v3.5", api_key=KEY)) as reranker:  # type: ignore[arg-type]
        scores = reranker.score("Who wrote Pride and Prejudice?", TEXTS)
    assert len(scores) == 3
    assert scores[1] > scores[2] > scores[0]


def test_the_rerank_step_orders_passages_by_the_service(server: str) -> None:
    passages = [Passage(f"d:{n}:0", "d", "a.pdf", n, text, 0.5) for n, text in enumerate(TEXTS, start=1)]
    with closing(HttpReranker(server + "/v1/rerank", api_key=KEY)) as reranker:
        reranked = scored_rerank(reranker.score)("Who wrote Pride and Prejudice?", [0.0], passages)
    assert [p.page for p in reranked] == [2, 3, 1]


def test_a_refused_or_unreachable_service_is_a_failure_the_step_survives(server: str) -> None:
    with closing(HttpReranker(server + "/v1/rerank", api_key="wrong-key-0123456789")) as wrong_key:
        with pytest.raises(GenerationFailed) as refused:
            wrong_key.score("q", TEXTS)
    assert refused.value.reason == "error"
    # TEI's request on Cohere's endpoint: the server refuses it (422) rather than guess.
    with closing(HttpReranker(server + "/v1/rerank", api="tei", api_key=KEY)) as wrong_api:
        with pytest.raises(GenerationFailed, match="refused the request: 422"):
            wrong_api.score("q", TEXTS)
    passages = [Passage("d:1:0", "d", "a.pdf", 1, "text", 0.5), Passage("d:2:0", "d", "a.pdf", 2, "more", 0.4)]
    with closing(HttpReranker(f"http://127.0.0.1:{free_port()}/v1/rerank", timeout_seconds=2)) as gone:
        with pytest.raises(GenerationFailed) as unreachable:
            gone.score("q", TEXTS)
        assert unreachable.value.reason == "unavailable"
        assert scored_rerank(gone.score)("q", [0.0], passages) == passages
