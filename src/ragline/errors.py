"""One error type for every layer. The API renders it as problem+json; a worker records it on the job."""

from __future__ import annotations

from enum import Enum


class ErrorCode(Enum):
    """Stable machine-readable codes, each with the HTTP status the API answers with."""

    INVALID_COLLECTION = ("invalid_collection", 422)
    INVALID_FILENAME = ("invalid_filename", 400)
    INVALID_QUESTION = ("invalid_question", 422)
    INVALID_UPLOAD = ("invalid_upload", 400)
    EMPTY_UPLOAD = ("empty_upload", 400)
    UPLOAD_TOO_LARGE = ("upload_too_large", 413)
    NOT_A_PDF = ("not_a_pdf", 415)
    ENCRYPTED_PDF = ("encrypted_pdf", 422)
    MALFORMED_PDF = ("malformed_pdf", 422)
    EMPTY_PDF = ("empty_pdf", 422)
    NO_EXTRACTABLE_TEXT = ("no_extractable_text", 422)
    EMBEDDING_MODEL_MISMATCH = ("embedding_model_mismatch", 409)
    NOT_FOUND = ("not_found", 404)
    DOCUMENT_BUSY = ("document_busy", 409)
    DEPENDENCY_UNAVAILABLE = ("dependency_unavailable", 503)
    QUERY_TIMEOUT = ("query_timeout", 504)
    INTERNAL = ("internal", 500)

    def __init__(self, code: str, http_status: int) -> None:
        self.code = code
        self.http_status = http_status

    @classmethod
    def from_code(cls, code: str) -> ErrorCode:
        return next((member for member in cls if member.code == code), cls.INTERNAL)


class RaglineError(Exception):
    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code.code}: {detail}")
        self.code = code
        self.detail = detail
