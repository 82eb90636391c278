"""A small client of the REST API, shared by the CLI and the UI (they use no other way in)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

TERMINAL_STATES = ("done", "failed")


class ApiError(RuntimeError):
    """A problem+json answer from the API, with its status, code and reason."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{detail} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.detail = detail


class RaglineClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

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

    def ask(self, collection: str, question: str, top_k: int | None = None) -> dict:
        body: dict = {"question": question}
        if top_k is not None:
            body["top_k"] = top_k
        return _json(self._http.post(f"/v1/collections/{collection}/query", json=body))

    def documents(self, collection: str) -> list[dict]:
        return _json(self._http.get(f"/v1/collections/{collection}/documents"))

    def delete(self, collection: str, document_id: str) -> None:
        _json(self._http.delete(f"/v1/collections/{collection}/documents/{document_id}"))

    def ready(self) -> dict:
        return _json(self._http.get("/readyz"))


def _json(response: httpx.Response):  # noqa: ANN202 - JSON of any shape
    if response.status_code >= 400:
        try:
            problem = response.json()
            raise ApiError(response.status_code, problem.get("code", "error"), problem.get("detail", response.text))
        except ValueError:
            raise ApiError(response.status_code, "error", response.text) from None
    return None if response.status_code == 204 else response.json()
