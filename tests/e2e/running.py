"""`ragline up` as a user runs it, for the tests that drive it: a real subprocess on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from ragline.localstack import StackPorts
from tests.conftest import ARTIFACTS, free_ports

RAGLINE = [sys.executable, "-m", "ragline.cli"]


def port_args(ports: StackPorts) -> list[str]:
    return [
        "--api-port", str(ports.api), "--flower-port", str(ports.flower), "--chroma-port", str(ports.chroma),
        "--redis-port", str(ports.redis), "--ui-port", str(ports.ui),
    ]


def wait_ready(urls: list[str], process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ragline exited early with {process.returncode}"
        try:
            if all(httpx.get(url, timeout=1).status_code == 200 for url in urls):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{urls} not ready within {timeout:g} s")


@dataclass
class Up:
    """A running `ragline up`: its process, ports, data folder and console output."""

    process: subprocess.Popen
    ports: StackPorts
    data_dir: Path
    output_path: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def chroma_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.chroma}"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def service_log(self, name: str) -> str:
        return (self.data_dir / "logs" / f"{name}.log").read_text(errors="replace")

    def child(self, marker: str) -> psutil.Process:
        """The service process `ragline up` started whose command line contains `marker` (not a pool child)."""
        matches = [c for c in psutil.Process(self.process.pid).children() if marker in " ".join(c.cmdline())]
        assert len(matches) == 1, f"{len(matches)} children of ragline up match {marker!r}"
        return matches[0]


@contextmanager
def ragline_up(name: str, data_dir: Path, args: Sequence[str] = (), env: dict[str, str] | None = None) -> Iterator[Up]:
    """`ragline up ARGS` until the block ends (then SIGTERM, which must exit 0); console in test-artifacts/logs/NAME.log."""
    ports = free_ports()
    path = ARTIFACTS / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as output:
        process = subprocess.Popen(
            [*RAGLINE, "up", "--data-dir", str(data_dir), *port_args(ports), *args],
            stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200", **(env or {})},
        )
        try:
            wait_ready([f"http://127.0.0.1:{ports.api}/readyz"], process)
            yield Up(process, ports, data_dir, path)
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=90)
    assert exit_code == 0, f"ragline up exited {exit_code}"
