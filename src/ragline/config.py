"""Typed settings for every ragline process, read from ``RAGLINE_*`` environment variables.

The OpenAI key is read from the standard ``OPENAI_API_KEY`` as well, so the usual
environment of an OpenAI user works unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, RedisDsn, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGLINE_", extra="ignore")

    redis_url: RedisDsn = Field(
        default=RedisDsn("redis://127.0.0.1:6379/0"),
        description="Broker, result backend, job store and cache.",
    )
    chroma_url: str = Field(default="http://127.0.0.1:8001", description="Chroma server base URL.")
    data_dir: Path = Field(
        default=Path("data"),
        description="Local state: Chroma and Redis files in local mode, and the folder of PDFs "
        "that the seed's /rag-individual-tasks endpoint may ingest (data_dir/pdfs).",
    )

    chunk_size: int = Field(default=1000, ge=100, le=20_000)
    chunk_overlap: int = Field(default=150, ge=0)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_question_chars: int = Field(default=2000, ge=10)
    default_top_k: int = Field(default=5, ge=1, le=50)
    # Cosine similarity below which a chunk is not evidence. MiniLM scores relevant passages
    # 0.5-0.8 and unrelated ones below 0.2 (FACTS.md); 0.3 sits in the gap.
    relevance_threshold: float = Field(default=0.3, ge=-1.0, le=1.0)
    answer_sentences: int = Field(default=3, ge=1, le=10)

    embedding_provider: Literal["auto", "local", "openai"] = Field(
        default="auto",
        description="auto: OpenAI-compatible when an API key or embeddings base URL is set, else local.",
    )
    local_embedding_model: Literal["all-MiniLM-L6-v2"] = LOCAL_EMBEDDING_MODEL
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    embeddings_base_url: str | None = None
    openai_embedding_model: str = "text-embedding-3-small"
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("RAGLINE_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    model_timeout_seconds: float = Field(default=30.0, gt=0)

    blob_ttl_seconds: int = Field(default=24 * 3600, ge=60, description="Uploaded PDF bytes in Redis.")
    intermediate_ttl_seconds: int = Field(
        default=6 * 3600, ge=60, description="Pages and chunks handed from one ingest step to the next."
    )
    job_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    task_time_limit_seconds: int = Field(default=1800, ge=10, description="Hard limit of any task.")
    query_timeout_seconds: float = Field(default=30.0, gt=0, description="How long the API waits for an answer.")
    worker_concurrency: int = Field(default=1, ge=1)
    metrics_port: int = Field(
        default=9100, ge=0, le=65535, description="Port of a worker's Prometheus endpoint (0: none)."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("RAGLINE_CHUNK_OVERLAP must be smaller than RAGLINE_CHUNK_SIZE")
        return self

    @property
    def visibility_timeout_seconds(self) -> int:
        """Redis re-delivers an unacknowledged task after this long: it must outlive the longest task."""
        return self.task_time_limit_seconds * 2

    @property
    def resolved_embedding_provider(self) -> Literal["local", "openai"]:
        if self.embedding_provider != "auto":
            return self.embedding_provider
        return "openai" if self.openai_api_key or self.embeddings_base_url else "local"

    @property
    def embedding_model_name(self) -> str:
        """The name a collection records, so a mismatched model is refused later."""
        if self.resolved_embedding_provider == "openai":
            return f"openai:{self.openai_embedding_model}"
        return f"local:{self.local_embedding_model}"

    @property
    def pdf_dir(self) -> Path:
        return self.data_dir / "pdfs"


@lru_cache
def get_settings() -> Settings:
    return Settings()
