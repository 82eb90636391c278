"""One error type for every layer. The API renders it as problem+json; a worker records it on the job."""

from __future__ import annotations

from enum import Enum


class ErrorCode(Enum):
    """Stable machine-readable codes, each with the HTTP status the API answers with."""

    INVALID_COLLECTION = ("invalid_collection", 422)
    INVALID_FILENAME = ("invalid_filename", 400)
    INVALID_QUESTION = ("invalid_question", 422)
    INVALID_UPLOAD = ("invalid_upload", 400)
    INVALID_REQUEST = ("invalid_request", 400)
    EMPTY_UPLOAD = ("empty_upload", 400)
    UPLOAD_TOO_LARGE = ("upload_too_large", 413)
    REQUEST_TOO_LARGE = ("request_too_large", 413)
    CONVERSATION_TOO_LONG = ("conversation_too_long", 413)
    HEADERS_TOO_LARGE = ("headers_too_large", 431)
    REQUEST_TIMEOUT = ("request_timeout", 408)
    INVALID_FILTER = ("invalid_filter", 422)
    QUOTA_EXCEEDED = ("quota_exceeded", 429)
    AUTH_RATE_LIMITED = ("auth_rate_limited", 429)
    NOT_A_PDF = ("not_a_pdf", 415)
    UNSUPPORTED_FORMAT = ("unsupported_format", 415)
    ENCRYPTED_DOCUMENT = ("encrypted_document", 422)
    MALFORMED_DOCUMENT = ("malformed_document", 422)
    DOCUMENT_TOO_LARGE = ("document_too_large", 422)
    ENCRYPTED_PDF = ("encrypted_pdf", 422)
    MALFORMED_PDF = ("malformed_pdf", 422)
    EMPTY_PDF = ("empty_pdf", 422)
    NO_EXTRACTABLE_TEXT = ("no_extractable_text", 422)
    TOO_MANY_CHUNKS = ("too_many_chunks", 422)
    EMBEDDING_MODEL_MISMATCH = ("embedding_model_mismatch", 409)
    INVALID_ARCHIVE = ("invalid_archive", 422)
    UNSUPPORTED_ARCHIVE_VERSION = ("unsupported_archive_version", 422)
    COLLECTION_NOT_EMPTY = ("collection_not_empty", 409)
    UNAUTHORIZED = ("unauthorized", 401)
    RATE_LIMITED = ("rate_limited", 429)
    QUEUE_FULL = ("queue_full", 503)
    UPLOADS_BACKLOGGED = ("uploads_backlogged", 503)
    NO_WORKER = ("no_worker", 503)
    NOT_FOUND = ("not_found", 404)
    DOCUMENT_BUSY = ("document_busy", 409)
    DEPENDENCY_UNAVAILABLE = ("dependency_unavailable", 503)
    WORKER_LOST = ("worker_lost", 503)
    QUERY_TIMEOUT = ("query_timeout", 504)
    INTERNAL = ("internal", 500)

    def __init__(self, code: str, http_status: int) -> None:
        self.code = code
        self.http_status = http_status

    @classmethod
    def from_code(cls, code: str) -> ErrorCode:
        return next((member for member in cls if member.code == code), cls.INTERNAL)


class RaglineError(Exception):
    def __init__(self, code: ErrorCode, detail: str, retry_after: int | None = None) -> None:
        super().__init__(f"{code.code}: {detail}")
        self.code = code
        self.detail = detail
        # Seconds after which the same request may succeed (rate limits, full queues, outages).
        self.retry_after = retry_after

    def __reduce__(self) -> tuple:
        # Celery pickles a task's exception for its result; the default reduction passes only the
        # message, which this constructor cannot take.
        return (type(self), (self.code, self.detail, self.retry_after))
