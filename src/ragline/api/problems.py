"""Every error leaves the API as RFC 9457 application/problem+json with a stable `code`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.api.models import Problem
from ragline.errors import ErrorCode, RaglineError
from ragline.stores.redis_client import FULL_ERROR as REDIS_FULL
from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE
from ragline.telemetry.tracing import current_trace_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://ragline.dev/problems/"
# Stable codes for the errors Starlette and FastAPI raise themselves (400: a body that would not parse).
HTTP_ERROR_CODES = {
    400: ErrorCode.INVALID_REQUEST.code,
    404: ErrorCode.NOT_FOUND.code,
    405: "method_not_allowed",
    413: ErrorCode.REQUEST_TOO_LARGE.code,
}


class BodyTooLarge(StarletteHTTPException):
    """A body that passed its bound while streaming in. An HTTPException, so that FastAPI's body
    parsing lets it through (it turns any other error there into a 400)."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(status_code=code.http_status, detail=detail)
        self.code = code


def problem_body(status: int, code: str, detail: str) -> dict:
    return {
        "type": PROBLEM_TYPE_BASE + code,
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        "trace_id": current_trace_id(),
    }


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    body = {**problem_body(status, code, detail), **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def install_problem_schema(app: FastAPI) -> None:
    """Publish what the handlers below really send: every error response is problem+json.

    FastAPI documents errors as application/json (and 422 as its own validation shape); clients
    and fuzzers check responses against the published schema, so the schema is corrected here.
    """
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if operation.get("parameters") or operation.get("requestBody"):
                    responses.setdefault("422", {"description": "Invalid request"})
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = problem
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RaglineError)
    async def _ragline_error(_: Request, exc: RaglineError) -> JSONResponse:
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        if exc.code is ErrorCode.UNAUTHORIZED:
            headers["WWW-Authenticate"] = 'Bearer realm="ragline"'
        return problem_response(exc.code.http_status, exc.code.code, exc.detail, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        reasons = "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in errors)
        bad_collection = any(tuple(error["loc"]) == ("path", "collection") for error in errors)
        code = ErrorCode.INVALID_COLLECTION.code if bad_collection else "invalid_request"
        return problem_response(422, code, reasons or "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        return problem_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(BodyTooLarge)
    async def _body_too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return problem_response(exc.status_code, exc.code.code, str(exc.detail))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(_: Request, exc: ClientDisconnect) -> JSONResponse:
        # The client left (or the server dropped it for sending too slowly): nobody reads this answer.
        code = ErrorCode.REQUEST_TIMEOUT
        return problem_response(code.http_status, code.code, "the client disconnected before the request was complete")

    @app.exception_handler(REDIS_FULL)
    async def _redis_full(_: Request, exc: Exception) -> JSONResponse:
        logger.error("redis is full: raise its maxmemory or lower what ragline keeps in it error=%s", exc)
        code = ErrorCode.DEPENDENCY_UNAVAILABLE
        return problem_response(code.http_status, code.code, "Redis is full; retry later", {"Retry-After": "30"})

    for redis_error in REDIS_UNAVAILABLE:

        @app.exception_handler(redis_error)
        async def _redis_down(_: Request, exc: Exception) -> JSONResponse:
            logger.warning("redis unavailable error=%s", exc)
            code = ErrorCode.DEPENDENCY_UNAVAILABLE
            return problem_response(code.http_status, code.code, "Redis is unreachable; retry shortly", {"Retry-After": "5"})


class UnexpectedErrorMiddleware:
    """An exception no handler took (a bug, a surprise from a library) becomes a 500 problem `internal` with
    the request's trace id and none of the internals; the traceback goes to the log.

    Added innermost, inside the telemetry middleware: the problem carries this request's trace id, and
    the request is measured with its 500. Without it Starlette answers a bare text/plain 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            logger.exception("request failed method=%s path=%s", scope["method"], scope["path"])
            if started:
                raise  # a streamed response already began: all that is left is to cut it short
            code = ErrorCode.INTERNAL
            response = problem_response(code.http_status, code.code, "the API failed; its log has the details under this trace id")
            await response(scope, receive, send)

