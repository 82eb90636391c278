"""Single real servers on free loopback ports, for tests that need one Redis or one Chroma and not a whole
stack (tests that kill and restart them, or run the API in-process against them).

    with RedisServer(tmp_path) as cache:
        redis.Redis.from_url(cache.url).ping()
        cache.kill()       # SIGKILL, as a crashed or evicted pod
        cache.start()      # the same port again, empty
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
import signal
import subprocess
import sys
from pathlib import Path

import redis

from ragline.localstack import free_port, http_ok
from tests.conftest import wait_until

HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 60.0


class _ServerProcess(ABC):
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port(HOST)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> _ServerProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.kill()

    @abstractmethod
    def argv(self) -> list[str]: ...

    @abstractmethod
    def ready(self) -> bool: ...

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "server.log").open("a") as log:
            self.process = subprocess.Popen(
                self.argv(), cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        wait_until(self.ready, READY_TIMEOUT_SECONDS, f"{self.argv()[0]} on port {self.port} (log: {self.data_dir / 'server.log'})")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


class RedisServer(_ServerProcess):
    """redis-server without persistence, as the chart's cache Redis runs."""

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def argv(self) -> list[str]:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: scripts/install-system-deps.sh test"
        return [binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]

    def ready(self) -> bool:
        try:
            with redis.Redis.from_url(self.url, socket_connect_timeout=1) as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False


class ChromaServer(_ServerProcess):
    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def argv(self) -> list[str]:
        chroma = Path(sys.executable).with_name("chroma")
        return [str(chroma), "run", "--path", str(self.data_dir / "data"), "--host", HOST, "--port", str(self.port)]

    def ready(self) -> bool:
        return http_ok(f"{self.url}/api/v2/heartbeat")
