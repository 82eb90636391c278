"""Local process mode: every ragline service as a child process on one machine, no cluster.

Redis (unless an external one is given), the Chroma server, one Celery worker per queue, the API,
the web UI and Flower (each when asked) and, on request, a local chat model (llama.cpp's server, which
the workers then answer with) and a Prometheus scraping them all start in
waves: Redis and Chroma first, then everything that needs them, together; a wave must answer its
health checks before the next starts. Every worker serves its metrics on a port of its own.

Each service's output goes to `DATA_DIR/logs/<service>.log` (emptied at each start) and, when a
`log` stream is given, to it as well, prefixed with the service's name.

With `supervise=True` (what `ragline up` and `ragline demo` use) a child that exits is started
again after a backoff, as a container runtime's restart policy would (RestartPolicy: 1 s, doubling
up to 30 s, back to 1 s once it has stayed up for a minute). Work in flight is not lost: tasks are
acknowledged late and a job whose worker vanished is sent again (see ragline.recovery). A child
whose last five restarts each ended within a minute is given up on, that one only, with its
log tail: it is broken, not unlucky, and `restart(name)` tries again. Without supervision (the
fault tests, which kill and restart services themselves) a dead child stays dead until `restart(name)`.

Stopping sends SIGTERM to each process group (so no grandchild survives), dependents first, waits,
then kills what is left.
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
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx
import redis

from ragline.config import Settings
from ragline.flower_auth import local_flower_auth
from ragline.providers.llama_server import CONTEXT_TOKENS
from ragline.tasks import names
from ragline.tasks.celery_app import make_celery

READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 20.0
LOG_TAIL_LINES = 40
POLL_SECONDS = 0.25

# What to do when `ragline up` cannot find a Redis to start.
REDIS_MISSING = """redis-server is not installed, and the local stack needs a Redis. Either install it:
  Debian/Ubuntu:     sudo apt-get install -y redis-server   (`make demo` does this)
  macOS (Homebrew):  brew install redis
  Fedora/RHEL:       sudo dnf install -y redis
or use a Redis that is already running: RAGLINE_REDIS_URL=redis://HOST:6379/0 (or --redis-url)."""

Event = Callable[[str, str], None]


class StackError(RuntimeError):
    """The local stack could not start; the message says what to do about it."""


@dataclass(frozen=True)
class RestartPolicy:
    """How a supervised stack restarts a child that exited.

    Kubernetes' CrashLoopBackOff starts at 10 s and caps at 5 min; on a laptop the worker should be
    back at once. The defaults give up after 1+2+4+8+16 s of backoff on a child that never stays up.
    """

    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    # Up this long, a child is healthy again: its next exit is restarted after the first backoff.
    stable_seconds: float = 60.0
    # Restarts in a row that each ended within stable_seconds, after which a child is given up on.
    max_fast_failures: int = 5

    def delay(self, fast_failures: int) -> float:
        """The wait before the next start, after `fast_failures` restarts in a row that each ended quickly."""
        return min(self.backoff_seconds * 2**fast_failures, self.max_backoff_seconds)


@dataclass(frozen=True)
class StackPorts:
    api: int = 8000
    flower: int = 5555
    chroma: int = 8001
    redis: int = 6390
    prometheus: int = 9090
    ui: int = 7860
    llm: int = 8081


@dataclass(frozen=True)
class LocalChatModel:
    """A GGUF that llama.cpp's server (ragline.providers.llama_server) serves to the workers as `alias`."""

    gguf: Path
    alias: str
    context_tokens: int = CONTEXT_TOKENS


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
    # Services of one wave start together, once every service of the waves before is ready.
    wave: int = 0
    log_path: Path | None = None
    process: subprocess.Popen | None = None
    pump: threading.Thread | None = None
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    # Supervision: restarts so far, restarts in a row that ended within a minute, when and by whom it last started.
    restarts: int = 0
    fast_failures: int = 0
    started_at: float = 0.0
    restarted: bool = False
    given_up: bool = False
    watcher: threading.Thread | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)


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
        chat_model: LocalChatModel | None = None,
        ingest_processes: int = 1,
        query_processes: int = 1,
        scrape_interval_seconds: float = 5.0,
        extra_env: dict[str, str] | None = None,
        log: TextIO | None = sys.stdout,
        supervise: bool = False,
        restart_policy: RestartPolicy = RestartPolicy(),
        on_event: Event | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self.ports = ports
        self.host = host
        self.external_redis = redis_url is not None
        self.redis_url = redis_url or f"redis://{host}:{ports.redis}/0"
        self.chroma_url = f"http://{host}:{ports.chroma}"
        self.api_url = f"http://{host}:{ports.api}"
        self.flower_url = f"http://{host}:{ports.flower}" if with_flower else None
        # How to log in to Flower (its basic auth), once the stack has started.
        self.flower_login: str | None = None
        self.ui_url = f"http://{host}:{ports.ui}" if with_ui else None
        self.prometheus_url = f"http://{host}:{ports.prometheus}" if with_prometheus else None
        self.chat_model = chat_model
        # What RAGLINE_LLM_BASE_URL takes: the local chat model's OpenAI API root.
        self.llm_url = f"http://{host}:{ports.llm}/v1" if chat_model is not None else None
        self.supervise = supervise
        self.restart_policy = restart_policy
        self._with_flower = with_flower
        # One model per process: each pool process embeds one page range of a long document at a time,
        # or answers one question at a time.
        self._concurrency = {names.INGEST_QUEUE: ingest_processes, names.QUERY_QUEUE: query_processes, names.DEFAULT_QUEUE: 1}
        self._scrape_interval_seconds = scrape_interval_seconds
        self._extra_env = extra_env or {}
        self._log = log
        self._on_event = on_event
        self._log_lock = threading.Lock()
        self._stopping = threading.Event()
        self._pings = _PingCache(self.redis_url)
        self.services: list[Service] = []

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self, background: Collection[str] = ()) -> None:
        """Start every service; return once all are ready but those named in `background` (e.g. the web UI,
        which nothing else needs), whose readiness is then reported through `on_event` as it comes."""
        (self.data_dir / "pdfs").mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        planned = self._plan()
        for service in planned:
            if service.port is not None:
                _require_free_port(self.host, service.port, service.name)
        try:
            for wave in sorted({service.wave for service in planned}):
                members = [service for service in planned if service.wave == wave]
                for service in members:
                    service.log_path = self.log_dir / f"{service.name}.log"
                    service.log_path.write_text("")
                    self.services.append(service)
                    self._spawn(service)
                self._wait_ready([service for service in members if service.name not in background])
        except BaseException:
            self.stop()
            raise
        for service in self.services:
            if service.name in background:
                threading.Thread(target=self._wait_in_background, args=(service,), daemon=True).start()
        if self.supervise:
            for service in self.services:
                self._watch(service)

    def stop(self) -> None:
        self._stopping.set()
        for wave in sorted({service.wave for service in self.services}, reverse=True):
            members = [service for service in self.services if service.wave == wave]
            for service in members:
                # A supervisor in the middle of a restart finishes spawning before the signal.
                with service.lock:
                    if service.process is not None and service.process.poll() is None:
                        _signal_group(service.process, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            for service in members:
                self._reap(service, deadline)
        for service in self.services:
            if service.watcher is not None:
                service.watcher.join(timeout=5)
        self.services.clear()

    def service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    def metrics_urls(self) -> dict[str, str]:
        """Every process's Prometheus endpoint, by service name."""
        return {s.name: s.metrics_url for s in self.services if s.metrics_url is not None}

    def dead_services(self) -> list[str]:
        """Services whose process has exited and is not (yet) running again."""
        return [s.name for s in self.services if s.process is not None and s.process.poll() is not None]

    def given_up(self) -> list[str]:
        """Supervised services that kept failing right after their start and are no longer restarted."""
        return [s.name for s in self.services if s.given_up]

    def restart(self, name: str) -> None:
        """Start one service again now, after it stopped or was killed (fault tests; a given-up service)."""
        service = self.service(name)
        with service.lock:
            if service.process is not None and service.process.poll() is None:
                raise StackError(f"{name} is still running")
            self._reap(service, time.monotonic())
            service.given_up = False
            service.fast_failures = 0
            self._spawn(service)
            service.restarted = False
            self._wait_ready([service])
        if self.supervise and (service.watcher is None or not service.watcher.is_alive()):
            self._watch(service)

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
            **self._chat_model_env(),
            **self._extra_env,
        }

    def _chat_model_env(self) -> dict[str, str]:
        if self.chat_model is None or self.llm_url is None:
            return {}
        return {"RAGLINE_LLM_BASE_URL": self.llm_url, "RAGLINE_LLM_MODEL": self.chat_model.alias}

    def _plan(self) -> list[Service]:
        python = sys.executable
        planned: list[Service] = []
        if not self.external_redis:
            redis_server = shutil.which("redis-server")
            if redis_server is None:
                raise StackError(REDIS_MISSING)
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
        # Everything below needs Redis (and the workers and the API Chroma), nothing needs another of them.
        for queue in names.QUEUES:
            # Three workers on one machine: each needs a metrics port of its own.
            metrics_port = free_port(self.host)
            planned.append(
                Service(
                    f"{queue}-worker",
                    [python, "-m", "celery", "-A", f"ragline.worker.{queue}", "worker", "-Q", queue,
                     "-n", f"{queue}@%h", "--concurrency", str(self._concurrency[queue]), "--prefetch-multiplier", "1",
                     "--without-gossip", "--without-mingle", "-E", "--loglevel", "INFO"],
                    ready=lambda queue=queue: self._pings.answers(f"{queue}@"),
                    env={"RAGLINE_METRICS_PORT": str(metrics_port)},
                    metrics_url=f"http://{self.host}:{metrics_port}/metrics",
                    wave=1,
                )
            )
        planned.append(
            Service(
                "api",
                # uvicorn with the request bounds of ragline.api.server (header size, head and body deadlines).
                [python, "-m", "ragline.api", "--host", self.host, "--port", str(self.ports.api), "--no-access-log"],
                ready=lambda: http_ok(f"{self.api_url}/healthz"),
                port=self.ports.api,
                metrics_url=f"{self.api_url}/metrics",
                wave=1,
            )
        )
        if self.ui_url is not None:
            planned.append(
                Service(
                    "ui",
                    [python, "-m", "ragline.cli", "ui", "--host", self.host, "--port", str(self.ports.ui), "--api-url", self.api_url],
                    ready=lambda: http_ok(f"{self.ui_url}/healthz"),
                    port=self.ports.ui,
                    wave=1,
                )
            )
        if self.chat_model is not None:
            planned.append(
                Service(
                    "llm",
                    [python, "-m", "ragline.providers.llama_server", str(self.chat_model.gguf), self.host, str(self.ports.llm),
                     self.chat_model.alias, str(self.chat_model.context_tokens)],
                    ready=lambda: http_ok(f"{self.llm_url}/models"),
                    port=self.ports.llm,
                    # Idle OpenMP threads spin by default: on a busy 2-core machine that made generation ~2.5x slower (FACTS.md).
                    env={"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")},
                    wave=1,
                )
            )
        if self._with_flower:
            # Flower shows every tenant's tasks: it never runs without credentials (see flower_auth).
            flower_auth = local_flower_auth(self.data_dir, self.env())
            self.flower_login = flower_auth.describe()
            self._write("flower", self.flower_login)
            planned.append(
                Service(
                    "flower",
                    [python, "-m", "celery", "-A", "ragline.worker.default", "flower",
                     f"--port={self.ports.flower}", f"--address={self.host}"],
                    ready=lambda: http_ok(f"{self.flower_url}/healthcheck"),
                    port=self.ports.flower,
                    env={"FLOWER_BASIC_AUTH": flower_auth.value},
                    metrics_url=f"{self.flower_url}/metrics",
                    wave=1,
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
            wave=1,
        )

    # ---- processes -------------------------------------------------------------------------

    def _spawn(self, service: Service) -> None:
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
        service.started_at = time.monotonic()
        service.pump = threading.Thread(target=self._pump, args=(service, service.process), daemon=True)
        service.pump.start()

    def _reap(self, service: Service, deadline: float) -> None:
        """Wait for a signalled (or dead) leader until `deadline`, then kill whatever is left of its group."""
        process = service.process
        if process is None:
            return
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self._event(service, "did not stop in time; killing it")
        # Whatever the leader did, no process of its group may outlive it (a prefork pool's children).
        _signal_group(process, signal.SIGKILL)
        process.wait()
        _close_output(service)

    def _pump(self, service: Service, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        with _open_log(service) as file:
            for line in process.stdout:
                line = line.rstrip()
                service.log_tail.append(line)
                if file is not None:
                    file.write(line + "\n")
                self._write(service.name, line)

    def _write(self, name: str, line: str) -> None:
        if self._log is None:
            return
        with self._log_lock:
            self._log.write(f"{name:>14} | {line}\n")
            self._log.flush()

    def _event(self, service: Service, message: str) -> None:
        """A line about a service from the stack itself: to the log stream, its log file and `on_event`."""
        self._write(service.name, message)
        if service.log_path is not None:
            with service.log_path.open("a") as file:
                file.write(f"--- ragline: {message}\n")
        if self._on_event is not None:
            self._on_event(service.name, message)

    def _wait_ready(self, services: list[Service]) -> None:
        """Until every one of `services` answers its health check; StackError with the log tail of one that fails."""
        waiting = list(services)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while waiting:
            for service in list(waiting):
                if service.process is not None and service.process.poll() is not None:
                    raise StackError(
                        f"{service.name} exited with status {service.process.returncode}; the end of its log"
                        f"{_log_name(service)}:\n" + "\n".join(service.log_tail)
                    )
                if service.ready():
                    waiting.remove(service)
                    self._event(service, f"ready in {time.monotonic() - service.started_at:.1f} s" if service.argv else "ready")
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{', '.join(s.name for s in waiting)} not ready after {READY_TIMEOUT_SECONDS:g} s; the end of its log"
                    f"{_log_name(waiting[0])}:\n" + "\n".join(waiting[0].log_tail)
                )
            if self._stopping.wait(POLL_SECONDS):
                raise StackError("the stack is stopping")

    def _wait_in_background(self, service: Service) -> None:
        try:
            self._wait_ready([service])
        except StackError as exc:
            # Supervised, an exit is reported (and restarted) by the supervisor; a stop is no failure.
            if not self.supervise and not self._stopping.is_set():
                self._event(service, str(exc))

    # ---- supervision -----------------------------------------------------------------------

    def _watch(self, service: Service) -> None:
        if not service.argv:
            return
        service.watcher = threading.Thread(target=self._supervise, args=(service,), name=f"supervise-{service.name}", daemon=True)
        service.watcher.start()

    def _supervise(self, service: Service) -> None:
        """Restart `service` whenever its process exits, until the stack stops or the service is given up on."""
        while not self._stopping.is_set():
            policy = self.restart_policy
            process = service.process
            if process is None or process.poll() is None:
                self._stopping.wait(POLL_SECONDS)
                continue
            if self._stopping.is_set():
                return  # stopped by stop(), which sets the flag before it signals
            # Only a restart that ends quickly counts: a first exit, however early, is restarted after the first backoff.
            quick = service.restarted and time.monotonic() - service.started_at < policy.stable_seconds
            service.fast_failures = service.fast_failures + 1 if quick else 0
            if service.fast_failures >= policy.max_fast_failures:
                with service.lock:
                    self._reap(service, time.monotonic())
                service.given_up = True
                self._event(
                    service,
                    f"exited with status {process.returncode}; its last {service.fast_failures} restarts each ended within "
                    f"{policy.stable_seconds:g} s: giving up on it (the rest of the stack keeps running). "
                    f"The end of its log{_log_name(service)}:\n" + "\n".join(service.log_tail),
                )
                return
            delay = policy.delay(service.fast_failures)
            self._event(service, f"exited with status {process.returncode}; restarting in {delay:g} s (restart {service.restarts + 1})")
            with service.lock:
                if service.process is process:
                    self._reap(service, time.monotonic())  # now: a killed worker's pool children must not work on
            if self._stopping.wait(delay):
                return
            with service.lock:
                if self._stopping.is_set():
                    return
                if service.process is not process:
                    continue  # restarted meanwhile by restart()
                service.restarts += 1
                try:
                    self._spawn(service)
                except OSError as exc:  # its program is gone (uninstalled, a venv moved): nothing to retry
                    service.given_up = True
                    self._event(service, f"cannot be started again ({exc}); giving up on it")
                    return
                service.restarted = True
                try:
                    self._wait_ready([service])
                except StackError as exc:
                    if self._stopping.is_set():
                        return
                    if service.process is not None and service.process.poll() is None:
                        # Alive but never ready: a failed start too. (One that exited is reported by the loop.)
                        self._event(service, str(exc).splitlines()[0] + "; killing it")
                        _signal_group(service.process, signal.SIGKILL)
                        service.process.wait()

    # ---- health checks ---------------------------------------------------------------------

    def _redis_ready(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.5).ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False
        except redis.ResponseError as exc:
            # Loading the append-only file: up, but not ready.
            return "LOADING" not in str(exc)


class _PingCache:
    """Celery's broadcast ping, shared: one ping (0.5 s) answers for every worker of a wave."""

    MAX_AGE_SECONDS = 0.5

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        self._lock = threading.Lock()
        self._nodes: set[str] = set()
        self._at = 0.0

    def answers(self, prefix: str) -> bool:
        """Whether a worker whose node name starts with `prefix` answered a recent ping."""
        with self._lock:
            if time.monotonic() - self._at > self.MAX_AGE_SECONDS:
                self._nodes = self._ping()
                self._at = time.monotonic()
            return any(node.startswith(prefix) for node in self._nodes)

    def _ping(self) -> set[str]:
        app = make_celery("probe", Settings(redis_url=self._redis_url))
        try:
            return {node for reply in app.control.ping(timeout=0.5) for node in reply}
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return set()
        finally:
            app.close()


def _log_name(service: Service) -> str:
    return f" ({service.log_path})" if service.log_path is not None else ""


class _open_log:
    """The service's log file, appended to (None when it has none)."""

    def __init__(self, service: Service) -> None:
        self._path = service.log_path
        self._file: TextIO | None = None

    def __enter__(self) -> TextIO | None:
        if self._path is not None:
            self._file = self._path.open("a", buffering=1, errors="replace")
        return self._file

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            self._file.close()


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
