"""Typed settings for every ragline process, read from ``RAGLINE_*`` environment variables.

The OpenAI key is read from the standard ``OPENAI_API_KEY`` as well, so the usual
environment of an OpenAI user works unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, RedisDsn, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ragline.tenancy import TENANT_PATTERN

LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# Ref: https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2 ("maps sentences to a 384 dimensional
# dense vector space").
LOCAL_EMBEDDING_DIMENSION = 384
MIN_API_KEY_CHARS = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGLINE_", extra="ignore")

    redis_url: RedisDsn = Field(
        default=RedisDsn("redis://127.0.0.1:6379/0"),
        description="Broker, result backend, job store, documents; the caches too unless cache_redis_url is set.",
    )
    cache_redis_url: RedisDsn | None = Field(
        default=None,
        description="A Redis of its own for the embedding and answer caches, which grow with the corpus and may be "
        "evicted (maxmemory with allkeys-lru); unset: the main Redis (redis_url). When it is down, ragline runs "
        "without cache, never fails for it.",
    )
    chroma_url: str = Field(default="http://127.0.0.1:8001", description="Chroma server base URL.")
    blob_dir: Path | None = Field(
        default=None,
        description="Folder of the filesystem blob store (originals, lexical index segments); default: "
        "data_dir/blobs. In a cluster, a volume every API and worker pod mounts.",
    )
    blob_store: Literal["filesystem", "s3"] = Field(
        default="filesystem",
        description="Where originals and other bytes that outlive a task live: filesystem (blob_dir) or s3 (an "
        "S3-compatible bucket, s3_*). Never Redis: its memory is bounded and shared with the broker.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible store (SeaweedFS, MinIO, Ceph RGW...); unset: AWS S3."
    )
    s3_bucket: str | None = Field(default=None, description="Bucket of the s3 blob store (required with it); ragline never creates it.")
    s3_prefix: str = Field(default="", description="Prefix of every key ragline writes in the bucket, e.g. 'ragline/' to share one.")
    s3_region: str | None = Field(default=None, description="Region of the bucket; unset: boto3's (AWS_REGION, AWS_DEFAULT_REGION).")
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto",
        description="path (http://HOST/BUCKET/KEY) for most self-hosted stores reached by a service name; virtual "
        "(http://BUCKET.HOST/KEY) or auto for AWS.",
    )
    s3_access_key_id: SecretStr | None = Field(
        default=None,
        description="Access key of the s3 blob store; unset: boto3's standard chain (AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, shared config files, IRSA web identity, instance metadata).",
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="Secret key that goes with s3_access_key_id.")
    s3_timeout_seconds: float = Field(default=30.0, gt=0, description="Longest wait for one S3 response (connect: 5 s).")
    data_dir: Path = Field(
        default=Path("data"),
        description="Local state: Chroma and Redis files in local mode, and the folder of PDFs "
        "that the seed's /rag-individual-tasks endpoint may ingest (data_dir/pdfs).",
    )

    chunk_size: int = Field(default=1000, ge=100, le=20_000)
    chunk_overlap: int = Field(default=150, ge=0)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(
        default=4 * 1024**3,
        ge=1024,
        description="Largest collection archive POST /v1/collections/{collection}/import takes; it is staged in "
        "the blob store as it arrives, never held in memory.",
    )
    max_question_chars: int = Field(default=2000, ge=10)
    default_top_k: int = Field(default=5, ge=1, le=50)
    # Cosine similarity below which a chunk is not evidence. MiniLM scores relevant passages
    # 0.5-0.8 and unrelated ones below 0.2 (FACTS.md), but questions near a document's topic land
    # in between: bench/eval.py measured "not found" for 50% of unanswerable questions at 0.3 and
    # 70% at 0.4, with the same page recall and false "not found" rate (README, Answer quality).
    relevance_threshold: float = Field(default=0.4, ge=-1.0, le=1.0)
    answer_sentences: int = Field(default=3, ge=1, le=10)

    embedding_provider: Literal["auto", "local", "openai"] = Field(
        default="auto",
        description="auto: OpenAI-compatible when an API key or embeddings base URL is set, else local.",
    )
    local_embedding_model: Literal["all-MiniLM-L6-v2"] = LOCAL_EMBEDDING_MODEL
    local_embedding_runtime: Literal["auto", "openvino-int8", "onnx-int8", "torch"] = Field(
        default="auto",
        description="The same MiniLM weights on one of three runtimes, all recording the same model name (no "
        "re-index to switch). openvino-int8: quantized to int8 locally on first start (or at image build) with "
        "NNCF's calibrated static quantization, run on OpenVINO (pip extra `openvino`); onnx-int8: dynamic int8 "
        "on ONNX Runtime; torch: sentence-transformers. auto: openvino-int8 where OpenVINO is installed, else "
        "onnx-int8. Speeds and page recall@5 per runtime: bench/embeddings.py (README, Performance).",
    )
    embedding_threads: int = Field(
        default=0, ge=0, description="Threads of the openvino-int8 and onnx-int8 runtimes; 0: one per core."
    )
    embedding_device: Literal["cpu", "cuda"] = Field(
        default="cpu",
        description="Device of the torch runtime: cuda runs MiniLM on the node's GPU (about 100x a 2-core CPU, "
        "docs/scaling.md) and falls back to cpu, with a warning, when torch sees no GPU. Needs "
        "RAGLINE_LOCAL_EMBEDDING_RUNTIME=torch.",
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Where locally built model files go; default: data_dir/models."
    )
    embedding_cache_ttl_seconds: int = Field(
        default=30 * 24 * 3600,
        ge=0,
        description="Vectors kept per model and chunk text, so re-uploads embed only new chunks; 0: off.",
    )
    embedding_batch_size: int = Field(
        default=128,
        ge=1,
        le=1024,
        description="Chunks per embedding call and per Chroma upsert; the int8 runtimes sort each call's "
        "chunks by length and runs them 16 at a time, so a larger call pads less (128: +9% chunks/s over 32).",
    )
    ingest_pages_per_part: int = Field(
        default=50,
        ge=0,
        description="A longer document is embedded in page ranges of this size, in parallel over every ingest "
        "worker process (see ingest_parts_in_flight); 0: always in one task.",
    )
    ingest_chunks_per_part: int = Field(
        default=500,
        ge=0,
        description="A page range holding more chunks than this is split further (within a page if need be), so "
        "one huge page cannot hold an ingest worker for minutes; 0: no limit.",
    )
    ingest_parts_in_flight: int = Field(
        default=4,
        ge=0,
        description="Page ranges of one document queued or running at once; each one that ends sends the next, so "
        "another upload queued meanwhile waits for at most this many ranges; 0: all at once (no fairness).",
    )
    max_chunks_per_document: int = Field(
        default=20_000,
        ge=1,
        description="A document that splits into more chunks fails with too_many_chunks before anything is stored.",
    )
    ocr: Literal["auto", "off", "force"] = Field(
        default="auto",
        description="Tesseract OCR of PDF pages and images: auto reads a PDF page whose text layer is missing or far "
        "too small for the images it shows; force reads every PDF page; off never runs it (images then fail).",
    )
    ocr_languages: str = Field(
        default="eng",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract languages joined by '+', e.g. eng+deu; each needs its tesseract-ocr-LANG package.",
    )
    ocr_dpi: int = Field(default=300, ge=72, le=600, description="Resolution PDF pages are rendered at for OCR.")
    ocr_pages_per_task: int = Field(
        default=10,
        ge=1,
        description="A document with more pages to OCR than this reads them in ranges of this many pages, spread over "
        "the ingest processes, each task with a time limit derived from its page count.",
    )
    ocr_seconds_per_page: int = Field(
        default=60, ge=5, description="Time an OCR task is given per page of its range (3-5 s measured on 2 cores)."
    )
    pdf_tables: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: PDF pages that look tabular (mostly numbers) have their tables read by pdfplumber and "
        "written into the chunk text as Markdown tables.",
    )
    max_archive_bytes: int = Field(
        default=100 * 1024 * 1024,
        ge=1024,
        description="DOCX, PPTX, XLSX and EPUB: the most their ZIP members may expand to, together (zip bombs).",
    )
    max_archive_ratio: int = Field(
        default=200, ge=10, description="The most any ZIP member may expand relative to its compressed size."
    )
    max_sheet_cells: int = Field(
        default=2_000_000, ge=1000, description="Cells read from one spreadsheet or CSV; more fails document_too_large."
    )
    max_image_pixels: int = Field(
        default=100_000_000, ge=1_000_000, description="Pixels of one image (or TIFF frame); more fails document_too_large."
    )
    chroma_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait for one Chroma request (connect: at most 5 s)."
    )
    flower_user: str = Field(default="admin", description="User name of Flower's basic auth in local mode.")
    flower_password: SecretStr | None = Field(
        default=None,
        description="Password of Flower's basic auth in local mode; unset: generated at first start and kept in "
        "data_dir/flower-password (mode 0600).",
    )
    embeddings_base_url: str | None = None
    openai_embedding_model: str = "text-embedding-3-small"
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("RAGLINE_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    model_timeout_seconds: float = Field(default=30.0, gt=0)

    retrieval: Literal["vector", "hybrid"] = Field(
        default="hybrid",
        description="vector: embedding similarity only; hybrid: BM25 and vectors fused by reciprocal rank "
        "(bench/eval.py measured both; see the README's Answer quality section).",
    )
    lexical_cache_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=0,
        description="Memory each query process may give to BM25 indexes of collections (least recently used "
        "out first; one collection bigger than this is still held while asked). About 60 MB per 100,000 "
        "chunks of 1,000 characters (bench/scale.py).",
    )
    hybrid_candidates: int = Field(default=20, ge=1, le=200, description="Hits per retriever before fusion.")
    # Ref: Cormack, Clarke and Buettcher (SIGIR 2009), "Reciprocal rank fusion outperforms Condorcet
    # and individual rank learning methods": k = 60.
    rrf_k: int = Field(default=60, ge=1)
    condense: Literal["auto", "rules"] = Field(
        default="auto",
        description="How a conversation's follow-up becomes a standalone question before retrieval: auto: the chat model "
        "rewrites it when one is configured, rules otherwise (and when it fails); rules: always the deterministic rules.",
    )
    rerank: Literal["none", "sentences", "llm", "http"] = Field(
        default="none",
        description="Reorders the first RAGLINE_RERANK_CANDIDATES fused passages before the top_k are kept: "
        "sentences (each passage's best sentence similarity, fused with the retrieval order), llm (the chat model "
        "names the passages that answer), http (a TEI, Jina or Cohere-compatible /rerank service at RAGLINE_RERANK_URL).",
    )
    rerank_candidates: int = Field(default=10, ge=1, le=100, description="Passages the reranker reorders.")
    rerank_url: str | None = Field(default=None, description="The rerank endpoint, e.g. http://tei:8080/rerank.")
    rerank_api: Literal["cohere", "tei"] = Field(
        default="cohere", description="cohere: Cohere's and Jina's request and reply (documents, results); tei: TEI's (texts)."
    )
    rerank_model: str | None = Field(default=None, description="The model field of a Cohere or Jina request.")
    rerank_api_key: SecretStr | None = Field(default=None, description="Bearer key of the rerank service.")
    answer_mode: Literal["extractive", "generative"] = Field(
        default="extractive",
        description="generative needs an LLM (RAGLINE_LLM_BASE_URL or OPENAI_API_KEY); a request may ask "
        "for either mode.",
    )
    llm_base_url: str | None = Field(default=None, description="Any OpenAI-compatible chat completions server.")
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(default=30.0, gt=0, description="The whole generation, first byte to last.")
    llm_max_tokens: int = Field(default=512, ge=16, le=16_384)
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    answer_cache_ttl_seconds: int = Field(default=24 * 3600, ge=0, description="0 turns the answer cache off.")

    blob_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="Uploaded PDF bytes wait in Redis for their ingest this long at most."
    )
    max_transit_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Uploaded bytes waiting in Redis for their ingest, all uploads together (a file leaves Redis for "
        "the blob store once indexed); a new upload past it gets 503 uploads_backlogged. At least max_upload_bytes.",
    )
    intermediate_ttl_seconds: int = Field(
        default=6 * 3600, ge=60, description="Pages and chunks handed from one ingest step to the next."
    )
    job_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    task_time_limit_seconds: int = Field(default=1800, ge=10, description="Hard limit of any task.")
    query_timeout_seconds: float = Field(default=30.0, gt=0, description="How long the API waits for an answer.")
    api_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated KEY=TENANT pairs. Unset: no authentication, one tenant ('public').",
    )
    rate_limit_per_minute: int = Field(default=0, ge=0, description="Requests per API key per minute; 0: no limit.")
    # Request bounds (README, "Limits and hardening"). The header, timeout and connection bounds are the
    # server's: they hold when the API runs as `python -m ragline.api`, not under a bare `uvicorn`.
    auth_failures_per_minute: int = Field(
        default=20, ge=0, description="Wrong API keys per client IP per minute before 429 auth_rate_limited; 0: no limit."
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body other than an upload (counted as it streams)."
    )
    max_multipart_parts: int = Field(default=8, ge=1, le=1000, description="Parts (fields) of one upload's multipart body.")
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Request line and headers together; more gets 431 headers_too_large."
    )
    max_headers: int = Field(default=100, ge=10, description="Request headers; more gets 431 headers_too_large.")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="From connecting (or the request's first byte) to its last header; then 408."
    )
    body_timeout_seconds: float = Field(
        default=120.0, gt=0, description="From the last header to the body's last byte (uploads included); then 408."
    )
    keep_alive_seconds: int = Field(default=5, ge=1, description="An idle keep-alive connection is closed after this.")
    max_connections: int = Field(
        default=1000, ge=0, description="Open connections (or requests) of one API process before 503; 0: no limit."
    )
    max_chat_messages: int = Field(default=50, ge=1, description="Messages of one chat completions request.")
    max_chat_chars: int = Field(
        default=32_000, ge=100, description="Characters of all the messages of one chat completions request together."
    )
    tenant_max_documents: int = Field(default=1000, ge=0, description="Documents per tenant, all collections; 0: no limit.")
    tenant_max_pages: int = Field(
        default=100_000, ge=0, description="Pages of a tenant's ingested documents (counted when a job ends); 0: no limit."
    )
    tenant_max_bytes: int = Field(
        default=1024**3, ge=0, description="Bytes of a tenant's uploaded PDFs (kept in the blob store for previews); 0: no limit."
    )
    max_queue_length: int = Field(
        default=500, ge=1, description="New uploads or questions get 503 while their queue holds this many tasks."
    )
    worker_heartbeat_ttl_seconds: float = Field(
        default=15.0, gt=0, description="A worker silent for this long is considered gone."
    )
    # A queue whose workers may scale to zero must take work with no worker alive: the queued task is
    # what wakes KEDA. Only a kind that always runs (queries: a person waits for the answer) is refused.
    require_live_worker_queues: Annotated[frozenset[Literal["ingest", "query", "default"]], NoDecode] = Field(
        default=frozenset({"query"}),
        description="Comma-separated queues whose work gets 503 no_worker at once while none of their workers is "
        "alive; work for the other queues is queued and waits for a worker to start.",
    )
    job_stall_seconds: float = Field(
        default=120.0, gt=0, description="A running job whose record has not changed for this long is sent again."
    )
    metrics_port: int = Field(
        default=9100, ge=0, le=65535, description="Port of a worker's Prometheus endpoint (0: none)."
    )
    metrics_host: str = Field(
        default="0.0.0.0", description="Address a worker's Prometheus endpoint listens on (local mode: loopback)."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("RAGLINE_CHUNK_OVERLAP must be smaller than RAGLINE_CHUNK_SIZE")
        return self

    @model_validator(mode="after")
    def _blob_store_complete(self) -> Settings:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("RAGLINE_BLOB_STORE=s3 needs RAGLINE_S3_BUCKET")
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError("set both RAGLINE_S3_ACCESS_KEY_ID and RAGLINE_S3_SECRET_ACCESS_KEY, or neither")
        if self.max_transit_bytes < self.max_upload_bytes:
            raise ValueError("RAGLINE_MAX_TRANSIT_BYTES must be at least RAGLINE_MAX_UPLOAD_BYTES, or no upload of the largest size could pass")
        return self

    @model_validator(mode="after")
    def _http_rerank_needs_url(self) -> Settings:
        if self.rerank == "http" and not self.rerank_url:
            raise ValueError("RAGLINE_RERANK=http needs RAGLINE_RERANK_URL")
        return self

    @model_validator(mode="after")
    def _device_needs_torch(self) -> Settings:
        # The int8 runtimes run on the CPU: a GPU asked for there would silently go unused.
        if self.embedding_device != "cpu" and self.local_embedding_runtime != "torch":
            raise ValueError("RAGLINE_EMBEDDING_DEVICE=cuda needs RAGLINE_LOCAL_EMBEDDING_RUNTIME=torch")
        return self

    @field_validator("require_live_worker_queues", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("api_keys")
    @classmethod
    def _usable_api_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # Parsed here so a bad value fails at start; the error shows the value masked, never the keys.
        _parse_api_keys(value)
        return value

    @property
    def api_key_tenants(self) -> dict[str, str]:
        """API key -> tenant."""
        return _parse_api_keys(self.api_keys)

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
    def embedding_dimension(self) -> int | None:
        """The length of this deployment's vectors where the configuration fixes it (the local model);
        an OpenAI-compatible server's is known once a collection records it."""
        return LOCAL_EMBEDDING_DIMENSION if self.resolved_embedding_provider == "local" else None

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url or self.openai_api_key)

    @property
    def pdf_dir(self) -> Path:
        return self.data_dir / "pdfs"

    @property
    def model_cache_path(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def blob_path(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"


def _parse_api_keys(value: SecretStr | None) -> dict[str, str]:
    """KEY=TENANT pairs. Keys shorter than MIN_API_KEY_CHARS are refused: they are guessable."""
    if value is None:
        return {}
    pairs: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in value.get_secret_value().split(","))):
        key, separator, tenant = entry.rpartition("=")
        if not separator or not re.fullmatch(TENANT_PATTERN, tenant):
            raise ValueError("RAGLINE_API_KEYS entries are KEY=TENANT, tenants lowercase letters, digits and '-'")
        if len(key) < MIN_API_KEY_CHARS:
            raise ValueError(f"RAGLINE_API_KEYS: every key needs at least {MIN_API_KEY_CHARS} characters")
        pairs[key] = tenant
    return pairs


@lru_cache
def get_settings() -> Settings:
    return Settings()
