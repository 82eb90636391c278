"""`ragline up` and `ragline demo` as a user runs them: real child processes, driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ARTIFACTS, free_ports, upload, wait_for_job

RAGLINE = [sys.executable, "-m", "ragline.cli"]


def _port_args(ports) -> list[str]:  # noqa: ANN001 - StackPorts
    return [
        "--api-port", str(ports.api), "--flower-port", str(ports.flower), "--chroma-port", str(ports.chroma),
        "--redis-port", str(ports.redis), "--ui-port", str(ports.ui),
    ]


def _wait_ready(urls: list[str], process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ragline up exited early with {process.returncode}"
        try:
            if all(httpx.get(url, timeout=1).status_code == 200 for url in urls):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the local stack did not become ready")


def test_up_serves_the_whole_journey_and_stops_cleanly(tmp_path: Path, samples: Path) -> None:
    ports = free_ports()
    log = (ARTIFACTS / "logs").joinpath("e2e-up.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        process = subprocess.Popen([*RAGLINE, "up", "--data-dir", str(tmp_path), *_port_args(ports)], stdout=output, stderr=subprocess.STDOUT)
        try:
            api_url = f"http://127.0.0.1:{ports.api}"
            _wait_ready([f"{api_url}/readyz", f"http://127.0.0.1:{ports.flower}/healthcheck", f"http://127.0.0.1:{ports.ui}/healthz"], process)
            with httpx.Client(base_url=api_url, timeout=60) as api:
                response = upload(api, "e2e", "world_population_wikipedia.pdf", (samples / "world_population_wikipedia.pdf").read_bytes())
                assert response.status_code == 202
                assert wait_for_job(api, response.json()["job_id"])["state"] == "done"
                answer = api.post("/v1/collections/e2e/query", json={"question": "What is the median age of human beings?"}).json()
            assert answer["grounded"] is True
            assert (answer["citations"][0]["filename"], answer["citations"][0]["page"]) == ("world_population_wikipedia.pdf", 1)

            children = psutil.Process(process.pid).children(recursive=True)
            assert len(children) >= 7
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=60)
    assert exit_code == 0
    time.sleep(0.5)
    assert [child.pid for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE] == []
    # Data persists in the folder for the next run.
    assert (tmp_path / "chroma").is_dir() and any((tmp_path / "redis").iterdir())


def test_demo_ingests_asks_and_prints_a_cited_answer(tmp_path: Path) -> None:
    ports = free_ports()
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run(
        [*RAGLINE, "demo", "--no-keep", "--data-dir", str(tmp_path), *_port_args(ports)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    (ARTIFACTS / "logs" / "e2e-demo.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "The median age of human beings as of 2020 is 31 years. [1]" in result.stdout
    assert "world_population_wikipedia.pdf" in result.stdout
    assert f"http://127.0.0.1:{ports.api}/docs" in result.stdout
    assert f"http://127.0.0.1:{ports.flower}" in result.stdout


def test_up_refuses_a_port_in_use_with_a_clear_message(tmp_path: Path) -> None:
    ports = free_ports()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports.api))
        squatter.listen()
        result = subprocess.run([*RAGLINE, "up", "--data-dir", str(tmp_path), *_port_args(ports)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert f"port {ports.api}" in result.stderr and "in use" in result.stderr


@pytest.mark.parametrize("command", [["ask", "hello?"], ["documents"], ["status", "0" * 32]])
def test_cli_reports_an_unreachable_api_with_exit_code_3(command: list[str]) -> None:
    dead = f"http://127.0.0.1:{free_ports().api}"
    result = subprocess.run([*RAGLINE, *command, "--api-url", dead], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "cannot reach the API" in result.stderr
