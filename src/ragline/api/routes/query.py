from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from ragline.api.deps import CollectionName, ServiceDep
from ragline.api.models import CitationPublic, Problem, QueryFilters, QueryRequest, QueryResponse
from ragline.api.service.questions import OpenQuery, QuestionService
from ragline.errors import RaglineError
from ragline.telemetry.tracing import current_trace_id

router = APIRouter(prefix="/v1/collections/{collection}", tags=["query"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post(
    "/query",
    response_model=QueryResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "With `stream: true`: Server-Sent Events."},
        **{status: {"model": Problem} for status in (404, 409, 422, 503, 504)},
    },
)
async def query_collection(
    collection: CollectionName, body: QueryRequest, service: ServiceDep
) -> QueryResponse | StreamingResponse:
    """Answer a question from this collection's documents, citing document and page.

    With `stream: true` the answer comes as Server-Sent Events: `token` events with the text as it
    is written, then one `citations` event (the final answer, authoritative, with its citations),
    then `done` (timings, trace id, cached). A `reset` event means the text sent so far is withdrawn
    (a generated answer failed and the extractive one follows); `error` ends a failed stream.
    """
    history = tuple((turn.role, turn.content) for turn in body.history if turn.content.strip())
    if history:
        service.questions.check_conversation([*(text for _, text in history), body.question])
    spec = service.questions.query_spec(
        collection, body.question, body.top_k, body.mode, body.retrieval, _filters(body.filters), history
    )
    query = await run_in_threadpool(service.questions.open_query, spec, body.stream)
    trace_id = current_trace_id()
    if body.stream:
        return StreamingResponse(_events(service.questions, query, trace_id), media_type="text/event-stream", headers=SSE_HEADERS)
    return query_response(await service.questions.answer(query), trace_id)


def query_response(payload: dict, trace_id: str | None) -> QueryResponse:
    return QueryResponse(
        answer=payload["answer"],
        grounded=payload["grounded"],
        citations=[CitationPublic(**citation) for citation in payload["citations"]],
        cached=payload.get("cached", False),
        trace_id=trace_id,
        mode=payload.get("mode", "extractive"),
        fallback_reason=payload.get("fallback_reason"),
        retrieval=payload.get("retrieval", "vector"),
        timings=payload.get("timings", {}),
        standalone_question=payload.get("standalone_question"),
    )


def sse(data: object, event: str | None = None) -> str:
    """One Server-Sent Event; without a name it is a plain `data:` line, as OpenAI streams are."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _events(questions: QuestionService, query: OpenQuery, trace_id: str | None) -> AsyncIterator[str]:
    try:
        async for event in questions.answer_events(query):
            if event["event"] == "token":
                yield sse({"text": event["text"]}, "token")
            elif event["event"] == "reset":
                yield sse({"reason": event["reason"]}, "reset")
            else:
                final = query_response(event, trace_id)
                yield sse(final.model_dump(exclude={"cached", "trace_id", "timings"}), "citations")
                yield sse({"cached": final.cached, "trace_id": trace_id, "timings": final.timings}, "done")
    except RaglineError as exc:
        yield sse({"code": exc.code.code, "status": exc.code.http_status, "detail": exc.detail}, "error")


def _filters(filters: QueryFilters | None) -> dict | None:
    if filters is None or not (filters.document_ids or filters.page_ranges):
        return None
    return {
        "document_ids": filters.document_ids,
        "page_ranges": [[page_range.first, page_range.last] for page_range in filters.page_ranges],
    }
