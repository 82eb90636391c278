"""The API<->worker messages: resolved from the request and the sender's settings, validated on arrival."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from ragline.api.service import RaglineService
from ragline.config import Settings
from ragline.tasks.messages import QueryTask

pytestmark = pytest.mark.unit


def _spec(settings: Settings, **request: object):  # noqa: ANN202 - a QuerySpec
    return RaglineService(settings).questions.query_spec("public--docs", "Who wrote it?", **request)  # type: ignore[arg-type]


def test_every_choice_is_resolved_from_the_senders_settings_unless_the_request_names_it() -> None:
    settings = Settings(retrieval="vector", default_top_k=2, relevance_threshold=0.7, answer_sentences=1)
    answering = _spec(settings).answering
    assert (answering.retrieval, answering.top_k, answering.threshold, answering.max_sentences) == ("vector", 2, 0.7, 1)
    assert answering.embedding_model == settings.embedding_model_name
    assert (answering.mode, answering.generation) == ("extractive", None)
    asked = _spec(settings, retrieval="hybrid", top_k=4, filters={"document_ids": ["d"], "page_ranges": [[2, 3]]}).answering
    assert (asked.retrieval, asked.top_k, asked.filters.page_ranges) == ("hybrid", 4, ((2, 3),))


def test_a_generative_question_carries_the_senders_chat_model_but_never_its_key() -> None:
    settings = Settings(answer_mode="generative", llm_base_url="http://127.0.0.1:9/v1", llm_model="small", openai_api_key=SecretStr("sk-secret"))
    generation = _spec(settings).answering.generation
    assert generation is not None and (generation.model, generation.base_url) == ("small", "http://127.0.0.1:9/v1")
    assert "sk-secret" not in _spec(settings).answering.model_dump_json()
    assert _spec(Settings(answer_mode="generative")).answering.generation is None, "no chat model configured: none is sent"


def test_the_cache_key_fields_differ_whenever_the_settings_that_make_the_answer_differ() -> None:
    default = _spec(Settings()).answering.cache_fields()
    assert _spec(Settings()).answering.cache_fields() == default
    for changed in (
        Settings(retrieval="vector"), Settings(default_top_k=1), Settings(relevance_threshold=0.9), Settings(rrf_k=10),
        Settings(rerank="sentences"), Settings(condense="rules"),
    ):
        assert _spec(changed).answering.cache_fields() != default


def test_a_message_survives_the_wire_and_anything_unknown_or_missing_is_refused() -> None:
    message = QueryTask(collection="public--docs", question="Who?", answering=_spec(Settings()).answering, reply_ttl_seconds=90)
    wire = message.to_task()
    assert QueryTask.model_validate(wire) == message
    with pytest.raises(ValidationError):
        QueryTask.model_validate({**wire, "top_k": 3})
    with pytest.raises(ValidationError):
        QueryTask.model_validate({key: value for key, value in wire.items() if key != "answering"})
