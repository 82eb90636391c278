"""Defences that apply to every request: response headers a browser must honour, and a brake on key guessing."""

from __future__ import annotations

import re
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.api.problems import BodyTooLarge, problem_response
from ragline.errors import ErrorCode

NOSNIFF = (b"x-content-type-options", b"nosniff")
UPLOAD_PATH = re.compile(r"^/v1/collections/[^/]+/documents/?$")
IMPORT_PATH = re.compile(r"^/v1/collections/[^/]+/import/?$")
# Forget IPs whose block ended once this many are remembered, so a spread of addresses cannot grow it forever.
MAX_REMEMBERED_IPS = 10_000


class NoSniffMiddleware:
    """`X-Content-Type-Options: nosniff` on every response: a browser must take the declared type (a
    PDF, JSON) and never sniff an uploaded polyglot into HTML or script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    message["headers"] = [*headers, NOSNIFF]
            await send(message)

        await self.app(scope, receive, send_nosniff)


class BlockedClients:
    """Client IPs that guessed too many API keys, until their window ends: refused before any key
    comparison, so guessing stops paying off. The failure counts themselves live in Redis (shared by
    every API replica); this per-process memory only spares the valid requests a Redis call each."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def retry_after(self, client: str) -> int | None:
        until = self._until.get(client)
        if until is None:
            return None
        remaining = until - time.monotonic()
        if remaining <= 0:
            del self._until[client]
            return None
        return max(int(remaining) + 1, 1)

    def block(self, client: str, seconds: int) -> None:
        if len(self._until) >= MAX_REMEMBERED_IPS:
            now = time.monotonic()
            self._until = {ip: until for ip, until in self._until.items() if until > now}
        self._until[client] = time.monotonic() + seconds


class BodyLimitMiddleware:
    """Bound every request body, counted as it streams in (a declared Content-Length over the bound is
    refused before a byte is read): `limit` bytes, `upload_limit` for an upload, `import_limit` for an
    archive to import.

    Starlette's own limiter (FastAPI's max_body_size) answers text/plain whenever Content-Length is
    over, past the app's problem+json handlers; this one raises BodyTooLarge, which they render.
    """

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int, import_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.import_limit = import_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and UPLOAD_PATH.match(scope["path"]):
            limit, code = self.upload_limit, ErrorCode.UPLOAD_TOO_LARGE
        elif scope["method"] == "POST" and IMPORT_PATH.match(scope["path"]):
            limit, code = self.import_limit, ErrorCode.UPLOAD_TOO_LARGE
        else:
            limit, code = self.limit, ErrorCode.REQUEST_TOO_LARGE
        detail = f"the request body is larger than the limit of {limit} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await problem_response(code.http_status, code.code, detail)(scope, receive, send)
            return
        received = 0

        async def receive_bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(code, detail)
            return message

        await self.app(scope, receive_bounded, send)
