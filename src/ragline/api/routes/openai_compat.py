"""OpenAI-compatible endpoints: any OpenAI client can ask a collection (the model is the collection).

The last user message is the question; earlier user and assistant messages are the conversation:
a follow-up is made a standalone question with them before retrieval, and the chat model sees them. Client system messages are not passed on: the service's own instructions
(answer from the sources, cite them) must not be overridden by a request.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from ragline.api.deps import PrincipalDep, ServiceDep
from ragline.api.models import (
    COLLECTION_PATTERN,
    ChatChoice,
    ChatCompletion,
    ChatCompletionMessage,
    ChatCompletionRequest,
    ChatMessage,
    CitationPublic,
    ModelPublic,
    ModelsPublic,
    Problem,
)
from ragline.api.routes.query import SSE_HEADERS, sse
from ragline.api.service.questions import OpenQuery, QuestionService
from ragline.errors import ErrorCode, RaglineError
from ragline.telemetry.tracing import current_trace_id
from ragline.tenancy import display, scope

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


@router.get("/models", response_model=ModelsPublic)
def list_models(service: ServiceDep, caller: PrincipalDep) -> ModelsPublic:
    """The caller's collections that hold documents, as OpenAI models."""
    names = [display(name) for name in service.documents.list_collections(caller.tenant)]
    return ModelsPublic(data=[ModelPublic(id=name) for name in names])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "With `stream: true`: chat.completion.chunk events."},
        **{status: {"model": Problem} for status in (404, 413, 422, 503, 504)},
    },
)
async def chat_completions(
    body: ChatCompletionRequest, service: ServiceDep, caller: PrincipalDep
) -> ChatCompletion | StreamingResponse:
    """Answer the last user message from the collection named by `model`, citing document and page.

    The reply's content ends with its sources ("Sources: [1] file.pdf, page 3"), so plain chat
    clients show them; `citations` and `ragline` carry the same as data.
    """
    if not re.fullmatch(COLLECTION_PATTERN, body.model):
        raise RaglineError(ErrorCode.NOT_FOUND, f"no collection named '{body.model}' (the model is the collection)")
    service.questions.check_conversation([message.text for message in body.messages])
    question, history = _conversation(body.messages)
    spec = service.questions.query_spec(scope(caller.tenant, body.model), question, history=history)
    query = await run_in_threadpool(service.questions.open_query, spec, body.stream)
    completion_id = f"chatcmpl-{query.request_id or uuid.uuid4().hex}"
    created = int(time.time())
    trace_id = current_trace_id()
    if body.stream:
        chunks = _chunks(service.questions, query, completion_id, created, body.model, trace_id)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)
    payload = await service.questions.answer(query)
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=body.model,
        choices=[ChatChoice(message=ChatCompletionMessage(content=payload["answer"] + _sources(payload["citations"])))],
        citations=[CitationPublic(**citation) for citation in payload["citations"]],
        ragline=_details(payload, trace_id),
    )


def _conversation(messages: Sequence[ChatMessage]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(question, history): the last user message, and the user/assistant turns before it (with which the
    worker makes a follow-up standalone before retrieval)."""
    last = next((n for n in range(len(messages) - 1, -1, -1) if messages[n].role == "user"), None)
    if last is None:
        raise RaglineError(ErrorCode.INVALID_QUESTION, "no user message: the last user message is the question")
    history = tuple((m.role, m.text) for m in messages[:last] if m.role in ("user", "assistant") and m.text.strip())
    return messages[last].text, history


def _sources(citations: list[dict]) -> str:
    if not citations:
        return ""
    lines = (f"[{number}] {c['filename']}, {c.get('location') or 'page ' + str(c['page'])}" for number, c in enumerate(citations, start=1))
    return "\n\nSources:\n" + "\n".join(lines)


def _details(payload: dict, trace_id: str | None) -> dict:
    fields = ("grounded", "mode", "fallback_reason", "retrieval", "cached", "timings", "standalone_question")
    return {**{name: payload.get(name) for name in fields}, "trace_id": trace_id}


async def _chunks(
    questions: QuestionService, query: OpenQuery, completion_id: str, created: int, model: str, trace_id: str | None
) -> AsyncIterator[str]:
    def chunk(delta: dict, finish_reason: str | None = None, **extra: object) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return sse(
            {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [choice], **extra}
        )

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for event in questions.answer_events(query):
            if event["event"] == "token":
                yield chunk({"content": event["text"]})
            elif event["event"] == "reset":
                # A chat client cannot take text back: say so, then the extractive answer follows.
                yield chunk({"content": f"\n\n(The generated answer above is withdrawn: {event['reason']}.)\n\n"})
            else:
                if event["citations"]:
                    yield chunk({"content": _sources(event["citations"])})
                citations = [CitationPublic(**c).model_dump() for c in event["citations"]]
                yield chunk({}, "stop", citations=citations, ragline=_details(event, trace_id))
    except RaglineError as exc:
        # OpenAI's SDKs raise an APIError for a stream event that carries `error`.
        yield sse({"error": {"message": exc.detail, "type": exc.code.code, "code": exc.code.code}})
    yield "data: [DONE]\n\n"
