"""`ragline ui` as a deployment runs it: under a path prefix (the ingress's) and, when it holds an API
key, only for visitors who log in with that key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from ragline.localstack import LocalStack, free_port, http_ok
from tests.conftest import ARTIFACTS, wait_until
from tests.ui.conftest import API_KEY

START_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def keyed_ui(stack: LocalStack) -> Iterator[str]:
    """The UI with the API key in its environment, as the chart gives it, served under /ui."""
    port = free_port()
    env = {**os.environ, "RAGLINE_API_KEY": API_KEY, "RAGLINE_UI_ROOT_PATH": "/ui/"}
    with (ARTIFACTS / "logs" / "ui-keyed.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ragline.cli", "ui", "--api-url", stack.api_url, "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: _serving(process, f"{base}/healthz"), START_TIMEOUT_SECONDS, "ragline ui to start")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def _serving(process: subprocess.Popen, url: str) -> bool:
    assert process.poll() is None, "ragline ui exited early; see test-artifacts/logs/ui-keyed.log"
    return http_ok(url)


def test_the_ui_is_served_under_its_path_prefix(keyed_ui: str) -> None:
    page = httpx.get(f"{keyed_ui}/ui/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text
    assert httpx.get(f"{keyed_ui}/healthz", timeout=10).json() == {"status": "ok"}


def test_a_ui_holding_a_key_serves_nothing_before_a_login_with_that_key(keyed_ui: str) -> None:
    with httpx.Client(base_url=f"{keyed_ui}/ui", timeout=10) as browser:
        refused = browser.get("/config")
        assert refused.status_code == 401 and "API key" in refused.text
        assert browser.post("/login", data={"username": "anyone", "password": "not-the-key-000000"}).status_code == 400
        assert browser.get("/config").status_code == 401
        assert browser.post("/login", data={"username": "anyone", "password": API_KEY}).status_code == 200
        config = browser.get("/config")
    assert config.status_code == 200
    assert config.json()["analytics_enabled"] is False
    # The key itself never reaches the page.
    assert API_KEY not in config.text
