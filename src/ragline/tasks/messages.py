"""The messages between the API and the workers, as pydantic models.

The sender resolves every choice the result depends on (from its request and its own settings) into
the message; the worker validates it on arrival and uses only the message for those choices, never
its own settings. So an API and a worker deployed with different RAGLINE_* values still agree on what
was asked, and the answer cache, keyed on the same message, never holds an answer under settings
that did not produce it. What stays the worker's own: credentials (OPENAI_API_KEY), connections, and
the embedding model it has loaded, which the message names so that a mismatch is refused, not used.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragline.domain import PassageFilter


class Message(BaseModel):
    """Immutable, no unknown fields: a message from a sender of another version fails validation loudly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_task(self) -> dict:
        """The JSON-ready form Celery carries (its serializer is json)."""
        return self.model_dump(mode="json")


class Filters(Message):
    document_ids: tuple[str, ...] = ()
    # 1-based, inclusive (first, last) pairs.
    page_ranges: tuple[tuple[int, int], ...] = ()

    def passage_filter(self) -> PassageFilter:
        return PassageFilter(document_ids=self.document_ids, page_ranges=self.page_ranges)


class Generation(Message):
    """The chat model a generative answer is written by; the worker holds only its API key."""

    model: str
    base_url: str | None
    max_tokens: int = Field(ge=1)
    temperature: float
    timeout_seconds: float = Field(gt=0)


class Reranking(Message):
    """The step that reorders the fused passages: by their sentences, by the chat model, or by an HTTP
    /rerank service (whose key is the worker's own)."""

    kind: Literal["sentences", "llm", "http"]
    candidates: int = Field(ge=1)
    url: str | None = None
    api: Literal["cohere", "tei"] | None = None
    model: str | None = None
    timeout_seconds: float | None = Field(default=None, gt=0)


class Answering(Message):
    """Everything besides the question that decides the answer: the answer cache's key is made of it."""

    embedding_model: str
    top_k: int = Field(ge=1)
    retrieval: Literal["vector", "hybrid"]
    # Hybrid retrieval: hits per retriever before fusion, and the fusion's k.
    candidates: int = Field(ge=1)
    rrf_k: int = Field(ge=1)
    threshold: float
    max_sentences: int = Field(ge=1)
    mode: Literal["extractive", "generative"]
    # The chat model, when the answer may use one (a generative answer, a follow-up rewritten by the model,
    # an llm rerank); None there: no chat model is configured, and rules or the extractive answer stand in.
    generation: Generation | None = None
    reranking: Reranking | None = None
    # How a follow-up is made standalone before retrieval: by the chat model (auto) or by rules.
    condense: Literal["auto", "rules"] = "auto"
    filters: Filters = Filters()
    # Earlier (role, text) turns of a conversation.
    history: tuple[tuple[str, str], ...] = ()

    def cache_fields(self) -> dict:
        return self.model_dump(mode="json")


class IngestJob(Message):
    """Ingest the upload recorded as job `job_id`; each step of its chain receives this message, and the
    job record keeps it for the recovery sweep to send again."""

    job_id: str
    embedding_model: str
    chunk_size: int = Field(ge=1)
    chunk_overlap: int = Field(ge=0)
    max_chunks: int = Field(ge=1)


class TenantQuota(Message):
    """Per-tenant limits; 0 means no limit."""

    documents: int = Field(ge=0)
    pages: int = Field(ge=0)
    size_bytes: int = Field(ge=0)


class ImportJob(Message):
    """Fill a collection from the archive staged for job `job_id`; the job record keeps this message too."""

    job_id: str
    # The archive must have been made with this model, and its documents fit in this quota.
    embedding_model: str
    quota: TenantQuota


class QueryTask(Message):
    """Answer `question` from `collection`, and push the answer to the reply list of the task's id."""

    collection: str
    question: str
    answering: Answering
    # Delivery, not the answer: push token events first; where to cache the answer and for how long
    # (None: nowhere); how long the reply list outlives the asker's wait.
    stream: bool = False
    cache_key: str | None = None
    cache_ttl_seconds: int = Field(default=0, ge=0)
    reply_ttl_seconds: int = Field(ge=1)
