"""Request and response bodies of the public REST contract (v1). Extend them; never rename a field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,61}[A-Za-z0-9]$"
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
DOCUMENT_ID_PATTERN = r"^[0-9a-f]{64}$"
# Beyond any real PDF; a larger number would reach the vector store's filter as an out-of-range integer.
MAX_PAGE_NUMBER = 1_000_000


class UploadPublic(BaseModel):
    job_id: str
    document_id: str
    status_url: str
    filename: str
    state: Literal["queued", "running", "done", "failed"]
    duplicate: bool = Field(description="True when these bytes were already in the collection.")


class ImportPublic(BaseModel):
    job_id: str
    status_url: str = Field(description="GET it (or its /events) to follow the import: stage verify, then write.")
    collection: str
    filename: str = Field(description="The archive's file name.")
    state: Literal["queued", "running", "done", "failed"]
    documents: int = Field(description="Documents the archive says it holds (verified by the import).")
    chunks: int
    embedding_model: str


class DocumentPublic(BaseModel):
    document_id: str
    filename: str
    pages: int = Field(description="Pages of a PDF, slides of a PPTX, frames of an image; sections of other formats.")
    chunks: int
    state: Literal["queued", "running", "done", "failed"]
    job_id: str
    format: str = Field(default="pdf", description="What the upload was found to be, by its bytes: pdf, docx, pptx, xlsx, "
                        "csv, html, markdown, text, epub, png, jpeg or tiff.")


class JobProgress(BaseModel):
    pages_done: int
    pages_total: int
    chunks_done: int
    chunks_total: int
    chunks_embedded: int = Field(
        default=0, description="Chunks the model embedded; the others reused cached vectors of the same text."
    )
    pages_ocr: int = Field(default=0, description="Pages read by OCR (Tesseract) so far: scanned pages and images.")


class JobPublic(BaseModel):
    job_id: str
    document_id: str
    collection: str
    filename: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str
    progress: JobProgress
    waiting_for_worker: bool = Field(
        default=False,
        description="The job is queued or running but no ingest worker is alive: it goes on when one starts "
        "(a worker kind scaled to zero, a rolling update or a crash restart).",
    )
    kind: Literal["ingest", "import"] = Field(
        default="ingest",
        description="ingest: one uploaded document (document_id); import: a collection archive (document_id empty, "
        "filename the archive's; progress counts chunks verified in stage verify, then written in stage write).",
    )
    error: str | None = Field(description="Why the job failed, in words.")
    error_code: str | None = Field(description="A stable code for the failure, e.g. encrypted_pdf.")
    timings: dict[str, float] = Field(description="Seconds per stage, and total once done.")
    created_at: float
    started_at: float | None
    finished_at: float | None


class PageRange(BaseModel):
    first: int = Field(ge=1, le=MAX_PAGE_NUMBER, description="1-based, inclusive.")
    last: int = Field(ge=1, le=MAX_PAGE_NUMBER, description="1-based, inclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> PageRange:
        if self.first > self.last:
            raise ValueError("first must not be after last")
        return self


class QueryFilters(BaseModel):
    document_ids: list[Annotated[str, Field(pattern=DOCUMENT_ID_PATTERN)]] = Field(
        default_factory=list, max_length=100, description="Only these documents (empty: all)."
    )
    page_ranges: list[PageRange] = Field(
        default_factory=list, max_length=50, description="Only pages within any of these ranges (empty: all)."
    )


class ConversationTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, description="Up to RAGLINE_MAX_QUESTION_CHARS characters.")
    top_k: int | None = Field(default=None, ge=1, le=50)
    stream: bool = Field(
        default=False,
        description="Answer as Server-Sent Events: `token`s, then `citations`, then `done` with timings and trace id.",
    )
    mode: Literal["extractive", "generative"] | None = Field(default=None, description="Default: RAGLINE_ANSWER_MODE.")
    retrieval: Literal["vector", "hybrid"] | None = Field(default=None, description="Default: RAGLINE_RETRIEVAL.")
    filters: QueryFilters | None = None
    history: list[ConversationTurn] = Field(
        default_factory=list,
        description="Earlier turns of a conversation, oldest first: a follow-up (\"and in 2050?\") is made a standalone "
        "question with them before retrieval; a generative answer's model sees them too. At most "
        "RAGLINE_MAX_CHAT_MESSAGES turns and RAGLINE_MAX_CHAT_CHARS characters with the question.",
    )


class CitationPublic(BaseModel):
    document_id: str
    filename: str
    page: int = Field(
        description="1-based, as a reader counts pages (slides of a PPTX); for formats without pages, the section's number."
    )
    score: float = Field(description="Cosine similarity of the chunk to the question.")
    text: str
    chunk_id: str
    location: str = Field(
        default="",
        description="Where the passage is in words, for formats without pages or beyond the page: \"slide 3: Results\", "
        "\"sheet Sales, rows 2-51\", \"Methods > Sampling\" (a heading path), \"lines 101-200\". Empty for a PDF page.",
    )


AnswerMode = Literal["extractive", "generative", "extractive_fallback"]


class QueryResponse(BaseModel):
    answer: str
    grounded: bool
    citations: list[CitationPublic]
    cached: bool
    trace_id: str | None
    mode: AnswerMode = Field(
        default="extractive", description="extractive_fallback: the generative answer failed; see fallback_reason."
    )
    fallback_reason: str | None = Field(
        default=None, description="timeout, unavailable, error, uncited (the model cited no source) or not_configured."
    )
    retrieval: Literal["vector", "hybrid"] = "vector"
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds: embed, retrieve, answer, total.")
    standalone_question: str | None = Field(
        default=None, description="With a `history`: the standalone question the follow-up was rewritten into, if it was."
    )


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        """The text of the message; of a list of content parts, the text parts joined."""
        if isinstance(self.content, list):
            return "\n".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completions request; other OpenAI parameters are accepted and ignored."""

    model: str = Field(description="The collection to answer from.")
    messages: list[ChatMessage] = Field(min_length=1, description="The last user message is the question.")
    stream: bool = False


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatCompletionMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatUsage(BaseModel):
    """Token counts are not measured; zeros keep clients that read usage working."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    """OpenAI's chat completion, plus ragline's `citations` and answer details."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage = Field(default_factory=ChatUsage)
    citations: list[CitationPublic]
    ragline: dict[str, Any] = Field(
        description="grounded, mode, fallback_reason, retrieval, cached, trace_id, timings, standalone_question."
    )


class ModelPublic(BaseModel):
    id: str = Field(description="A collection name.")
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "ragline"


class ModelsPublic(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]


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
