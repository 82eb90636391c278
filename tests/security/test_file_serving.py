"""A file served back can never act as a page of the API's origin: an uploaded PDF/HTML polyglot comes
back as a download of its declared type, sandboxed, under a sanitized name."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx

from tests.conftest import upload, wait_for_job

POLYGLOT_TAIL = b"\n<html><body><script>document.title='owned'</script></body></html>\n"
NAME = 'ré"sumé; x=1 <b>.pdf'


def test_an_uploaded_polyglot_is_served_as_a_sandboxed_download(fuzzer: httpx.Client, samples: Path) -> None:
    data = (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes() + POLYGLOT_TAIL
    job = wait_for_job(fuzzer, upload(fuzzer, "files", NAME, data).json()["job_id"])
    assert job["state"] == "done", job
    served = fuzzer.get(f"/v1/collections/files/documents/{job['document_id']}/file")
    assert served.status_code == 200
    assert served.content == data
    headers = served.headers
    assert headers["content-type"] == "application/pdf"
    assert headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"]
    disposition = headers["content-disposition"]
    assert disposition.startswith("attachment;")
    # httpx sends the quote as %22 (as browsers do); the name kept is what arrived.
    assert f"filename*=UTF-8''{quote(job['filename'], safe='')}" in disposition
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and '"' not in fallback and ";" not in disposition.split("filename*=")[1]
    assert len(headers.get_list("x-content-type-options")) == 1
