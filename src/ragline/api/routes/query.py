from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ragline.api.deps import CollectionName, ServiceDep
from ragline.api.models import CitationPublic, Problem, QueryRequest, QueryResponse
from ragline.errors import ErrorCode, RaglineError

router = APIRouter(prefix="/v1/collections/{collection}", tags=["query"])


@router.post(
    "/query",
    response_model=QueryResponse,
    responses={status: {"model": Problem} for status in (404, 409, 422, 503, 504)},
)
async def query_collection(collection: CollectionName, body: QueryRequest, service: ServiceDep) -> QueryResponse:
    """Answer a question from this collection's documents, citing document and page."""
    question = _clean_question(body.question, service.settings.max_question_chars)
    top_k = body.top_k or service.settings.default_top_k
    request_id = await run_in_threadpool(service.submit_query, collection, question, top_k)
    payload = await service.await_answer(request_id)
    return QueryResponse(
        answer=payload["answer"],
        grounded=payload["grounded"],
        citations=[CitationPublic(**citation) for citation in payload["citations"]],
        cached=False,
        trace_id=None,
    )


def _clean_question(question: str, max_chars: int) -> str:
    question = question.strip()
    if not question:
        raise RaglineError(ErrorCode.INVALID_QUESTION, "the question is empty")
    if len(question) > max_chars:
        raise RaglineError(ErrorCode.INVALID_QUESTION, f"the question is longer than {max_chars} characters")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in question):
        raise RaglineError(ErrorCode.INVALID_QUESTION, "the question contains control characters")
    return question
