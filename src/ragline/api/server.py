"""The API's HTTP server: uvicorn with bounds on what a client may hold open or send before the app sees it.

uvicorn (0.54, httptools) closes an idle keep-alive connection, but nothing else: a client that sends
its headers a byte a minute, or headers of any size, or a body that never ends, holds a connection
and memory for as long as it likes. This protocol refuses a request head over RAGLINE_MAX_HEADER_BYTES
or RAGLINE_MAX_HEADERS with 431, and drops a request whose head is not complete within
RAGLINE_HEADER_TIMEOUT_SECONDS or whose body is not complete within RAGLINE_BODY_TIMEOUT_SECONDS
(408). The app itself bounds the body's size (app.py), so a plain `uvicorn ragline.api.app:create_app`
still refuses oversized bodies; only these server-side bounds need this launcher.

Run with: python -m ragline.api --host 0.0.0.0 --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from asyncio import TimerHandle

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ragline.api.problems import PROBLEM_MEDIA_TYPE, problem_body
from ragline.config import Settings, get_settings
from ragline.errors import ErrorCode

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal to send is kept on the protocol."""


def problem_bytes(error: ErrorCode, detail: str) -> bytes:
    """A whole HTTP/1.1 problem+json response that closes the connection, written by the server itself."""
    body = json.dumps(problem_body(error.http_status, error.code, detail)).encode()
    head = [
        ("content-type", PROBLEM_MEDIA_TYPE),
        ("x-content-type-options", "nosniff"),
        ("connection", "close"),
        ("content-length", str(len(body))),
    ]
    fields = "".join(f"{name}: {value}\r\n" for name, value in head).encode("ascii")
    return STATUS_LINE[error.http_status] + fields + b"\r\n" + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a size bound on the request head and deadlines on head and body."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        settings = get_settings()
        self._max_head_bytes = settings.max_header_bytes
        self._max_headers = settings.max_headers
        self._head_timeout = settings.header_timeout_seconds
        self._body_timeout = settings.body_timeout_seconds
        self._head_bytes = 0
        self._header_count = 0
        self._deadline: TimerHandle | None = None
        self._refusal: tuple[ErrorCode, str] | None = None

    # ---- deadlines ---------------------------------------------------------------------------

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        logger.warning("request dropped reason=%s_timeout client=%s", what, self.client[0] if self.client else "unknown")
        cycle = self.cycle if what == "body" else None
        if cycle is None or not cycle.response_started:
            self.transport.write(
                problem_bytes(ErrorCode.REQUEST_TIMEOUT, f"the request {what} did not arrive within the server's time limit")
            )
        if cycle is not None:
            # The app's receive() returns http.disconnect and anything it sends later is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # From the connection's first moment: a client that connects and sends nothing is held to it too.
        self._arm(self._head_timeout, "head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # ---- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._header_count = 0
        if self._deadline is None:
            self._arm(self._head_timeout, "head")

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self._max_headers:
            self._refuse(ErrorCode.HEADERS_TOO_LARGE, f"more than {self._max_headers} request headers")
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._arm(self._body_timeout, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._max_head_bytes:
            self._refuse(ErrorCode.HEADERS_TOO_LARGE, f"the request line and headers are larger than {self._max_head_bytes} bytes")

    def _refuse(self, error: ErrorCode, detail: str) -> None:
        self._refusal = (error, detail)
        raise _Refused(detail)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to any parser error, a refusal raised in a callback included."""
        self._disarm()
        error, detail = self._refusal or (ErrorCode.INVALID_REQUEST, msg)
        self.transport.write(problem_bytes(error, detail))
        self.transport.close()


def serve(settings: Settings, options: argparse.Namespace) -> None:
    uvicorn.run(
        "ragline.api.app:create_app",
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        reload=options.reload,
        reload_dirs=options.reload_dir,
        access_log=options.access_log,
        proxy_headers=options.proxy_headers,
        forwarded_allow_ips=options.forwarded_allow_ips,
        root_path=options.root_path,
        http=BoundedHttpToolsProtocol,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections or None,
        # Only used by h11 (not this protocol); kept equal so an operator's --http h11 stays bounded.
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


def main(argv: list[str] | None = None) -> None:
    """The options of `uvicorn` that the compose file, the chart and Tilt pass; limits come from RAGLINE_*."""
    parser = argparse.ArgumentParser(prog="python -m ragline.api", description="Run the ragline API (uvicorn, bounded).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=None, help="Processes (default: WEB_CONCURRENCY or 1).")
    parser.add_argument("--reload", action="store_true", help="Restart on source changes (development).")
    parser.add_argument("--reload-dir", action="append", default=None, help="Folder to watch with --reload (repeatable).")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    parser.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction, default=True, help="Trust X-Forwarded-* from --forwarded-allow-ips.")
    parser.add_argument("--forwarded-allow-ips", default=None, help="Proxies to trust (default: FORWARDED_ALLOW_IPS or 127.0.0.1).")
    parser.add_argument("--root-path", default="")
    serve(get_settings(), parser.parse_args(argv))
