"""Local process mode: every ragline service as a child process on one machine, no cluster.

Redis (unless an external one is given), the Chroma server, one Celery worker per queue, the API,
the web UI and Flower (each when asked) and, on request, a Prometheus scraping them all start in
dependency order; each must answer its health check before the next starts. Every worker serves its metrics on a port of its own.
Their output is prefixed with their name. Stopping sends SIGTERM to each process group (so no
grandchild survives), waits, then kills what is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx
import redis

from ragline.config import Settings
from ragline.flower_auth import local_flower_auth
from ragline.worker import names
from ragline.worker.celery_app import make_celery

READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 20.0
LOG_TAIL_LINES = 40


class StackError(RuntimeError):
    """The local stack could not start; the message says what to do about it."""


@dataclass(frozen=True)
class StackPorts:
    api: int = 8000
    flower: int = 5555
    chroma: int = 8001
    redis: int = 6390
    prometheus: int = 9090
    ui: int = 7860


@dataclass
class Service:
    name: str
    argv: list[str]
    ready: Callable[[], bool]
    port: int | None = None
    # Added to the stack's environment for this process only.
    env: dict[str, str] = field(default_factory=dict)
    # Its Prometheus endpoint, when it has one.
    metrics_url: str | None = None
    process: subprocess.Popen | None = None
    pump: threading.Thread | None = None
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))


class LocalStack:
    """Start with `with LocalStack(...) as stack:`; the block's end stops every process."""

    def __init__(
        self,
        data_dir: Path,
        ports: StackPorts = StackPorts(),
        redis_url: str | None = None,
        host: str = "127.0.0.1",
        with_flower: bool = True,
        with_ui: bool = False,
        with_prometheus: bool = False,
        ingest_processes: int = 1,
        scrape_interval_seconds: float = 5.0,
        extra_env: dict[str, str] | None = None,
        log: TextIO = sys.stdout,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.host = host
        self.external_redis = redis_url is not None
        self.redis_url = redis_url or f"redis://{host}:{ports.redis}/0"
        self.chroma_url = f"http://{host}:{ports.chroma}"
        self.api_url = f"http://{host}:{ports.api}"
        self.flower_url = f"http://{host}:{ports.flower}" if with_flower else None
        self.ui_url = f"http://{host}:{ports.ui}" if with_ui else None
        self.prometheus_url = f"http://{host}:{ports.prometheus}" if with_prometheus else None
        self._with_flower = with_flower
        # One model per process: each pool process embeds one page range of a long document at a time.
        self._concurrency = {names.INGEST_QUEUE: ingest_processes, names.QUERY_QUEUE: 1, names.DEFAULT_QUEUE: 1}
        self._scrape_interval_seconds = scrape_interval_seconds
        self._extra_env = extra_env or {}
        self._log = log
        self._log_lock = threading.Lock()
        self.services: list[Service] = []

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        (self.data_dir / "pdfs").mkdir(parents=True, exist_ok=True)
        planned = self._plan()
        for service in planned:
            if service.port is not None:
                _require_free_port(self.host, service.port, service.name)
        try:
            for service in planned:
                self._spawn(service)
                self._wait_ready(service)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for service in reversed(self.services):
            if service.process is not None and service.process.poll() is None:
                _signal_group(service.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for service in reversed(self.services):
            if service.process is None:
                continue
            try:
                service.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self._emit(service.name, "did not stop in time; killing it")
            # Whatever the leader did, no process of its group may outlive the stack.
            _signal_group(service.process, signal.SIGKILL)
            service.process.wait()
            _close_output(service)
        self.services.clear()

    def service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    def metrics_urls(self) -> dict[str, str]:
        """Every process's Prometheus endpoint, by service name."""
        return {s.name: s.metrics_url for s in self.services if s.metrics_url is not None}

    def dead_services(self) -> list[str]:
        return [s.name for s in self.services if s.process is not None and s.process.poll() is not None]

    def restart(self, name: str) -> None:
        """Start one service again after it stopped or was killed (used by fault tests)."""
        service = self.service(name)
        if service.process is not None and service.process.poll() is None:
            raise StackError(f"{name} is still running")
        _close_output(service)
        self.services.remove(service)
        self._spawn(service)
        self._wait_ready(service)

    # ---- plan ------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RAGLINE_REDIS_URL": self.redis_url,
            "RAGLINE_CHROMA_URL": self.chroma_url,
            "RAGLINE_DATA_DIR": str(self.data_dir),
            "RAGLINE_METRICS_HOST": self.host,
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            **self._extra_env,
        }

    def _plan(self) -> list[Service]:
        python = sys.executable
        planned: list[Service] = []
        if not self.external_redis:
            redis_server = shutil.which("redis-server")
            if redis_server is None:
                raise StackError(
                    "redis-server is not installed: `sudo apt-get install -y redis-server` "
                    "(make demo does this), or point RAGLINE_REDIS_URL at a running Redis"
                )
            redis_dir = self.data_dir / "redis"
            redis_dir.mkdir(parents=True, exist_ok=True)
            planned.append(
                Service(
                    "redis",
                    [redis_server, "--port", str(self.ports.redis), "--bind", self.host, "--dir", str(redis_dir),
                     # Jobs and queued tasks survive a restart: every write is in the append-only file.
                     "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
                    ready=self._redis_ready,
                    port=self.ports.redis,
                )
            )
        else:
            planned.append(Service("redis", [], ready=self._redis_ready))
        chroma = str(Path(python).with_name("chroma"))
        planned.append(
            Service(
                "chroma",
                [chroma, "run", "--path", str(self.data_dir / "chroma"), "--host", self.host, "--port", str(self.ports.chroma)],
                ready=lambda: http_ok(f"{self.chroma_url}/api/v2/heartbeat"),
                port=self.ports.chroma,
                # Its default logs several lines per HTTP request at INFO.
                env={"RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            )
        )
        for queue in names.QUEUES:
            # Three workers on one machine: each needs a metrics port of its own.
            metrics_port = free_port(self.host)
            planned.append(
                Service(
                    f"{queue}-worker",
                    [python, "-m", "celery", "-A", f"ragline.worker.{queue}", "worker", "-Q", queue,
                     "-n", f"{queue}@%h", "--concurrency", str(self._concurrency[queue]), "--prefetch-multiplier", "1",
                     "--without-gossip", "--without-mingle", "-E", "--loglevel", "INFO"],
                    ready=lambda queue=queue: self._worker_ready(queue),
                    env={"RAGLINE_METRICS_PORT": str(metrics_port)},
                    metrics_url=f"http://{self.host}:{metrics_port}/metrics",
                )
            )
        planned.append(
            Service(
                "api",
                [python, "-m", "uvicorn", "ragline.api.app:create_app", "--factory",
                 "--host", self.host, "--port", str(self.ports.api), "--no-access-log"],
                ready=lambda: http_ok(f"{self.api_url}/healthz"),
                port=self.ports.api,
                metrics_url=f"{self.api_url}/metrics",
            )
        )
        if self.ui_url is not None:
            planned.append(
                Service(
                    "ui",
                    [python, "-m", "ragline.cli", "ui", "--host", self.host, "--port", str(self.ports.ui), "--api-url", self.api_url],
                    ready=lambda: http_ok(f"{self.ui_url}/healthz"),
                    port=self.ports.ui,
                )
            )
        if self._with_flower:
            # Flower shows every tenant's tasks: it never runs without credentials (see flower_auth).
            flower_auth = local_flower_auth(self.data_dir, self.env())
            self._emit("flower", flower_auth.describe())
            planned.append(
                Service(
                    "flower",
                    [python, "-m", "celery", "-A", "ragline.worker.default", "flower",
                     f"--port={self.ports.flower}", f"--address={self.host}"],
                    ready=lambda: http_ok(f"{self.flower_url}/healthcheck"),
                    port=self.ports.flower,
                    env={"FLOWER_BASIC_AUTH": flower_auth.value},
                    metrics_url=f"{self.flower_url}/metrics",
                )
            )
        if self.prometheus_url is not None:
            planned.append(self._prometheus({service.name: service.metrics_url for service in planned if service.metrics_url}))
        return planned

    def _prometheus(self, targets: dict[str, str]) -> Service:
        """A real Prometheus scraping every process, its data and config under data_dir/prometheus."""
        binary = shutil.which("prometheus")
        if binary is None:
            raise StackError("prometheus is not installed: `sudo apt-get install -y --no-install-recommends prometheus`")
        folder = self.data_dir / "prometheus"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "prometheus.yml"
        config.write_text(prometheus_config(targets, self._scrape_interval_seconds))
        return Service(
            "prometheus",
            [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address={self.host}:{self.ports.prometheus}", "--log.level=warn"],
            ready=lambda: http_ok(f"{self.prometheus_url}/-/ready"),
            port=self.ports.prometheus,
        )

    # ---- processes -------------------------------------------------------------------------

    def _spawn(self, service: Service) -> None:
        self.services.append(service)
        if not service.argv:
            return
        service.process = subprocess.Popen(
            service.argv,
            env={**self.env(), **service.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            # Own process group: Ctrl-C reaches us only, and stop() can signal the whole group.
            start_new_session=True,
        )
        service.pump = threading.Thread(target=self._pump, args=(service,), daemon=True)
        service.pump.start()

    def _pump(self, service: Service) -> None:
        assert service.process is not None and service.process.stdout is not None
        for line in service.process.stdout:
            service.log_tail.append(line.rstrip())
            self._emit(service.name, line.rstrip())

    def _emit(self, name: str, line: str) -> None:
        with self._log_lock:
            self._log.write(f"{name:>14} | {line}\n")
            self._log.flush()

    def _wait_ready(self, service: Service) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if service.process is not None and service.process.poll() is not None:
                tail = "\n".join(service.log_tail)
                raise StackError(f"{service.name} exited with status {service.process.returncode}:\n{tail}")
            if service.ready():
                self._emit(service.name, "ready")
                return
            time.sleep(0.25)
        raise StackError(f"{service.name} was not ready after {READY_TIMEOUT_SECONDS:g} s")

    def _redis_ready(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.5).ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False
        except redis.ResponseError as exc:
            # Loading the append-only file: up, but not ready.
            return "LOADING" not in str(exc)

    def _worker_ready(self, queue: str) -> bool:
        """A worker is ready when it answers a broadcast ping under its node name."""
        app = make_celery("probe", Settings(redis_url=self.redis_url))
        try:
            replies = app.control.ping(timeout=0.5)
        finally:
            app.close()
        return any(node.startswith(f"{queue}@") for reply in replies for node in reply)


def _close_output(service: Service) -> None:
    """The pump thread ends at the pipe's end of file; only then is the pipe closed."""
    if service.pump is not None:
        service.pump.join(timeout=5)
    if service.process is not None and service.process.stdout is not None:
        service.process.stdout.close()


def http_ok(url: str) -> bool:
    """Whether `url` answers 200 within a second."""
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _require_free_port(host: str, port: int, name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves do: connections of a stack stopped a moment ago linger in
        # TIME_WAIT and would fail a plain bind for a minute; only a listener means "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StackError(
                f"port {port} for {name} on {host} is in use ({exc.strerror}); stop what holds it "
                f"or choose another port (see `ragline up --help`)"
            ) from exc


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def prometheus_config(metrics_urls: dict[str, str], scrape_interval_seconds: float) -> str:
    """A Prometheus configuration scraping each process's endpoint (by service name) as its own job.

    Targets carry `namespace="local"` and `service`, the labels the chart's dashboards select on.
    JSON is YAML, and needs no YAML library.
    """
    interval = f"{scrape_interval_seconds:g}s"
    jobs = []
    for name, url in metrics_urls.items():
        parts = urlsplit(url)
        jobs.append(
            {
                "job_name": name,
                "metrics_path": parts.path,
                "static_configs": [{"targets": [parts.netloc], "labels": {"namespace": "local", "service": name}}],
            }
        )
    config = {"global": {"scrape_interval": interval, "evaluation_interval": interval}, "scrape_configs": jobs}
    return json.dumps(config, indent=2) + "\n"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
