"""`ragline up` and `ragline demo` as a user runs them: real child processes, driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ARTIFACTS, free_ports, upload, wait_for_job
from tests.e2e.running import RAGLINE, port_args, wait_ready

def test_up_serves_the_whole_journey_and_stops_cleanly(tmp_path: Path, samples: Path) -> None:
    ports = free_ports()
    log = (ARTIFACTS / "logs").joinpath("e2e-up.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        # --verbose: every service's log streams to the console too, prefixed with its name.
        command = [*RAGLINE, "up", "--verbose", "--data-dir", str(tmp_path), *port_args(ports)]
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            api_url = f"http://127.0.0.1:{ports.api}"
            wait_ready([f"{api_url}/readyz", f"http://127.0.0.1:{ports.flower}/healthcheck", f"http://127.0.0.1:{ports.ui}/healthz"], process)
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
    console = log.read_text()
    assert "ingest-worker | " in console and "api | " in console
    assert "Uvicorn running on" in (tmp_path / "logs" / "api.log").read_text()


def test_demo_ingests_asks_and_prints_a_cited_answer(tmp_path: Path) -> None:
    ports = free_ports()
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run(
        [*RAGLINE, "demo", "--no-keep", "--data-dir", str(tmp_path / "data"), *port_args(ports)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "logs" / "e2e-demo.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "The median age of human beings as of 2020 is 31 years. [1]" in result.stdout
    assert "world_population_wikipedia.pdf" in result.stdout
    assert f"http://127.0.0.1:{ports.api}/docs" in result.stdout
    assert f"http://127.0.0.1:{ports.flower}" in result.stdout
    # The console tells the story; the services' own logs are in files, named once.
    logs = tmp_path / "data" / "logs"
    assert f"{logs}/<service>.log" in result.stderr
    for name in ("redis", "chroma", "ingest-worker", "query-worker", "default-worker", "api"):
        assert f"✓ {name} ready in" in result.stderr
    for name in ("redis", "chroma", "ingest-worker", "query-worker", "default-worker", "api", "flower"):
        assert (logs / f"{name}.log").stat().st_size > 0
    assert "Task vectorstore_task" in (logs / "ingest-worker.log").read_text()
    assert "Task vectorstore_task" not in result.stdout + result.stderr
    assert "Uvicorn running" not in result.stdout + result.stderr


def test_up_without_redis_server_says_how_to_get_one(tmp_path: Path) -> None:
    # The interpreter and chroma are found from sys.executable; only redis-server is looked up on PATH.
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    env.pop("RAGLINE_REDIS_URL", None)
    result = subprocess.run([*RAGLINE, "up", "--data-dir", str(tmp_path), *port_args(free_ports())], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 3
    message = " ".join(result.stderr.split())
    assert "redis-server is not installed" in message
    assert "sudo apt-get install -y redis-server" in message
    assert "brew install redis" in message
    assert "RAGLINE_REDIS_URL=redis://HOST:6379/0" in message


def test_up_refuses_a_port_in_use_with_a_clear_message(tmp_path: Path) -> None:
    ports = free_ports()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports.api))
        squatter.listen()
        result = subprocess.run([*RAGLINE, "up", "--data-dir", str(tmp_path), *port_args(ports)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert f"port {ports.api}" in result.stderr and "in use" in result.stderr


@pytest.mark.parametrize("command", [["ask", "hello?"], ["documents"], ["status", "0" * 32]])
def test_cli_reports_an_unreachable_api_with_exit_code_3(command: list[str]) -> None:
    dead = f"http://127.0.0.1:{free_ports().api}"
    result = subprocess.run([*RAGLINE, *command, "--api-url", dead], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "cannot reach the API" in result.stderr


def test_sigterm_while_starting_stops_every_child_and_exits_0(tmp_path: Path) -> None:
    ports = free_ports()
    output = tmp_path / "console.log"
    with output.open("w") as console:
        process = subprocess.Popen([*RAGLINE, "up", "--data-dir", str(tmp_path), *port_args(ports)], stdout=console, stderr=subprocess.STDOUT)
        try:
            # Redis and Chroma are up, the workers, API, UI and Flower are starting.
            deadline = time.monotonic() + 120
            while "✓ chroma ready" not in output.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, output.read_text()
                time.sleep(0.2)
            time.sleep(1)
            children = psutil.Process(process.pid).children(recursive=True)
            assert len(children) >= 7, output.read_text()
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=90)
    assert exit_code == 0, output.read_text()
    time.sleep(0.5)
    assert [child.pid for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE] == []


def test_a_service_that_fails_at_start_is_reported_with_its_log_tail(tmp_path: Path) -> None:
    (tmp_path / "chroma").write_text("a file where Chroma wants its folder\n")
    # Wide: a long path must not be folded across lines.
    env = {**os.environ, "COLUMNS": "400"}
    command = [*RAGLINE, "up", "--data-dir", str(tmp_path), *port_args(free_ports())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 3
    message = " ".join(result.stderr.split())
    assert f"chroma exited with status 1; the end of its log ({tmp_path}/logs/chroma.log)" in message
    assert "File exists" in message, "the tail of Chroma's own output"
    assert "File exists" in (tmp_path / "logs" / "chroma.log").read_text()
