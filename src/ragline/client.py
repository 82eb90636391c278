"""A small client of the REST API, shared by the CLI and the UI (they use no other way in)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import httpx

TERMINAL_STATES = ("done", "failed")
# A job's event stream is silent while a long stage makes no visible progress; after this long
# the client reconnects, and the stream starts again with the job's current state.
EVENT_IDLE_SECONDS = 120.0
# An export streams as the server reads the stores: a pause this long between two pieces is a failure.
EXPORT_IDLE_SECONDS = 300.0


class ApiError(RuntimeError):
    """A problem+json answer from the API, with its status, code and reason (and the whole body)."""

    def __init__(self, status: int, code: str, detail: str, problem: dict | None = None) -> None:
        super().__init__(f"{detail} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = problem or {}


class RaglineClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RaglineClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def upload(self, collection: str, path: Path) -> dict:
        with path.open("rb") as handle:
            response = self._http.post(
                f"/v1/collections/{collection}/documents", files={"file": (path.name, handle, "application/pdf")}
            )
        return _json(response)

    def job(self, job_id: str) -> dict:
        return _json(self._http.get(f"/v1/jobs/{job_id}"))

    def wait(self, job_id: str, on_update: Callable[[dict], None] | None = None, poll_seconds: float = 0.5, timeout: float = 3600) -> dict:
        """Poll a job until it is done or failed; `on_update` sees every state read."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_update is not None:
                on_update(job)
            if job["state"] in TERMINAL_STATES:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout:g} s")
            time.sleep(poll_seconds)

    def follow(self, job_id: str) -> Iterator[dict]:
        """The job at each change, from its Server-Sent Events, ending with its done or failed state."""
        while True:
            try:
                with self._http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=httpx.Timeout(10.0, read=EVENT_IDLE_SECONDS)) as response:
                    _raise_for_problem(response)
                    for _, data in _events(response.iter_lines()):
                        job = json.loads(data)
                        yield job
                        if job["state"] in TERMINAL_STATES:
                            return
            except httpx.ReadTimeout:
                continue

    def ask(self, collection: str, question: str, top_k: int | None = None) -> dict:
        return _json(self._http.post(f"/v1/collections/{collection}/query", json=_question(question, top_k)))

    def ask_stream(
        self, collection: str, question: str, top_k: int | None = None, history: list[tuple[str, str]] | None = None
    ) -> Iterator[tuple[str, dict]]:
        """The answer as it is written: `token` ({text}), `reset` ({reason}: drop the text so far),
        then `citations` (the final answer with its citations) and `done` ({cached, trace_id, timings}).
        `history`: the conversation's earlier (role, text) turns, so a follow-up is understood.
        An `error` event is raised as ApiError."""
        body = {**_question(question, top_k), "stream": True}
        if history:
            body["history"] = [{"role": role, "content": text} for role, text in history]
        with self._http.stream("POST", f"/v1/collections/{collection}/query", json=body) as response:
            _raise_for_problem(response)
            for event, data in _events(response.iter_lines()):
                payload = json.loads(data)
                if event == "error":
                    raise ApiError(payload.get("status", 500), payload.get("code", "error"), payload.get("detail", data), payload)
                yield event, payload

    def collections(self) -> list[str]:
        """The caller's collections that hold documents (the API lists them as OpenAI models)."""
        return [model["id"] for model in _json(self._http.get("/v1/models"))["data"]]

    def documents(self, collection: str) -> list[dict]:
        return _json(self._http.get(f"/v1/collections/{collection}/documents"))

    def delete(self, collection: str, document_id: str) -> None:
        _json(self._http.delete(f"/v1/collections/{collection}/documents/{document_id}"))

    def document_file(self, collection: str, document_id: str) -> bytes:
        """The original PDF of an indexed document."""
        response = self._http.get(f"/v1/collections/{collection}/documents/{document_id}/file")
        _raise_for_problem(response)
        return response.content

    def export(self, collection: str, out: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> None:
        """Stream the collection's archive into `out`; `on_bytes` hears of each piece's size. A stream
        cut short raises httpx.HTTPError: what `out` holds then is no archive."""
        with self._http.stream("GET", f"/v1/collections/{collection}/export", timeout=httpx.Timeout(60.0, read=EXPORT_IDLE_SECONDS)) as response:
            _raise_for_problem(response)
            for piece in response.iter_bytes():
                out.write(piece)
                if on_bytes is not None:
                    on_bytes(len(piece))

    def import_archive(self, collection: str, path: Path) -> dict:
        """Upload an archive into a new or empty collection: 202 with the import's job."""
        with path.open("rb") as handle:
            response = self._http.post(
                f"/v1/collections/{collection}/import", files={"file": (path.name, handle, "application/x-tar")}
            )
        return _json(response)

    def ready(self) -> dict:
        return _json(self._http.get("/readyz"))


def _json(response: httpx.Response):  # noqa: ANN202 - JSON of any shape
    _raise_for_problem(response)
    return None if response.status_code == 204 else response.json()


def _raise_for_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    response.read()
    try:
        problem = response.json()
    except ValueError:
        raise ApiError(response.status_code, "error", response.text) from None
    raise ApiError(response.status_code, problem.get("code", "error"), problem.get("detail", response.text), problem)


def _question(question: str, top_k: int | None) -> dict:
    return {"question": question} if top_k is None else {"question": question, "top_k": top_k}


def _events(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Server-Sent Events as (event, data); data lines of one event are joined with newlines.

    >>> list(_events(["event: token", 'data: {"text":"Hi"}', "", "data: 1", ""]))
    [('token', '{"text":"Hi"}'), ('message', '1')]
    """
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
