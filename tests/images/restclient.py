"""A REST client run inside a container on the pods' network, so requests go to the API by its Service
name as another pod's would. Standard library only: it runs on any image with a Python.

    python restclient.py BASE_URL API_KEY STEPS_JSON      (API_KEY "-": none)

STEPS_JSON is a list of steps, run in order; the output is one JSON list with a result per step:
    {"op": "upload", "collection": C, "file": PATH}            -> {"status", "body"}
    {"op": "get", "path": P}                                   -> {"status", "body"}
    {"op": "query", "collection": C, "question": Q}            -> {"status", "body"}
    {"op": "wait_jobs", "ids": [ID, ...], "timeout": SECONDS}  -> {"jobs": [final job records]}
    {"op": "download", "path": P}                              -> {"status", "sha256", "bytes"}
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid


def call(base: str, key: str | None, method: str, path: str, body: bytes | None = None,
         content_type: str | None = None) -> dict:
    request = urllib.request.Request(base + path, data=body, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = raw.decode(errors="replace")
    return {"status": status, "body": payload}


def download(base: str, key: str | None, path: str) -> dict:
    """A binary body, told by its digest (a document's id is the SHA-256 of its bytes)."""
    request = urllib.request.Request(base + path)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return {"status": status, "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}


def upload(base: str, key: str | None, collection: str, path: str) -> dict:
    boundary = uuid.uuid4().hex
    with open(path, "rb") as f:
        data = f.read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{os.path.basename(path)}\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return call(base, key, "POST", f"/v1/collections/{collection}/documents", body,
                f"multipart/form-data; boundary={boundary}")


def wait_jobs(base: str, key: str | None, ids: list[str], timeout: float) -> dict:
    deadline, jobs = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        jobs = {i: call(base, key, "GET", f"/v1/jobs/{i}")["body"] for i in ids}
        if all(isinstance(j, dict) and j.get("state") in ("done", "failed") for j in jobs.values()):
            break
        time.sleep(1)
    return {"jobs": [jobs[i] for i in ids]}


def main() -> None:
    base, key, steps = sys.argv[1].rstrip("/"), sys.argv[2], json.loads(sys.argv[3])
    key = None if key == "-" else key
    results = []
    for step in steps:
        op = step["op"]
        if op == "upload":
            results.append(upload(base, key, step["collection"], step["file"]))
        elif op == "get":
            results.append(call(base, key, "GET", step["path"]))
        elif op == "query":
            body = json.dumps({"question": step["question"]}).encode()
            results.append(call(base, key, "POST", f"/v1/collections/{step['collection']}/query", body,
                                "application/json"))
        elif op == "wait_jobs":
            results.append(wait_jobs(base, key, step["ids"], step.get("timeout", 300)))
        elif op == "download":
            results.append(download(base, key, step["path"]))
        else:
            raise SystemExit(f"unknown op {op}")
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
