"""Request and response bodies of the public REST contract (v1). Extend them; never rename a field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,61}[A-Za-z0-9]$"
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
DOCUMENT_ID_PATTERN = r"^[0-9a-f]{64}$"


class UploadPublic(BaseModel):
    job_id: str
    document_id: str
    status_url: str
    filename: str
    state: Literal["queued", "running", "done", "failed"]
    duplicate: bool = Field(description="True when these bytes were already in the collection.")


class DocumentPublic(BaseModel):
    document_id: str
    filename: str
    pages: int
    chunks: int
    state: Literal["queued", "running", "done", "failed"]
    job_id: str


class JobProgress(BaseModel):
    pages_done: int
    pages_total: int
    chunks_done: int
    chunks_total: int


class JobPublic(BaseModel):
    job_id: str
    document_id: str
    collection: str
    filename: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str
    progress: JobProgress
    error: str | None = Field(description="Why the job failed, in words.")
    error_code: str | None = Field(description="A stable code for the failure, e.g. encrypted_pdf.")
    timings: dict[str, float] = Field(description="Seconds per stage, and total once done.")
    created_at: float
    started_at: float | None
    finished_at: float | None


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, description="Up to RAGLINE_MAX_QUESTION_CHARS characters.")
    top_k: int | None = Field(default=None, ge=1, le=50)


class CitationPublic(BaseModel):
    document_id: str
    filename: str
    page: int = Field(description="1-based, as a reader counts pages.")
    score: float = Field(description="Cosine similarity of the chunk to the question.")
    text: str
    chunk_id: str


class QueryResponse(BaseModel):
    answer: str
    grounded: bool
    citations: list[CitationPublic]
    cached: bool
    trace_id: str | None


class TaskSubmitted(BaseModel):
    task_id: str
    status: Literal["Task submitted"] = "Task submitted"


class TaskStatus(BaseModel):
    task_id: str
    status: Literal["PENDING", "STARTED", "RETRY", "COMPLETED", "FAILED"]
    result: float | int | str | None = None
    error: str | None = None


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]


class Problem(BaseModel):
    """RFC 9457 problem details, plus a stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    trace_id: str | None = None
