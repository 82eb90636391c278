"""The `ragline` command: run the local stack, ingest PDFs, ask questions, check jobs.

Exit codes scripts can rely on: 0 success, 1 a job failed or the answer was not grounded
(with --require-grounded), 2 bad usage, 3 the API is unreachable or refused the request.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragline.client import ApiError, RaglineClient
from ragline.localstack import LocalStack, StackError, StackPorts

EXIT_FAILED = 1
EXIT_UNREACHABLE = 3
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples" / "pdfs"
DEMO_PDF = "world_population_wikipedia.pdf"
DEMO_QUESTION = "What is the median age of human beings?"

app = typer.Typer(help="ragline: ask questions of your PDFs, with page citations.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

ApiUrl = Annotated[str, typer.Option(envvar="RAGLINE_API_URL", help="Base URL of the ragline API.")]
ApiKey = Annotated[str | None, typer.Option(envvar="RAGLINE_API_KEY", help="Bearer key, when the API requires one.")]
Collection = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(envvar="RAGLINE_DATA_DIR", help="Where Redis and Chroma keep data.")] = Path("data"),
    host: str = "127.0.0.1",
    api_port: int = StackPorts.api,
    flower_port: int = StackPorts.flower,
    chroma_port: int = StackPorts.chroma,
    redis_port: int = StackPorts.redis,
    redis_url: Annotated[str | None, typer.Option(envvar="RAGLINE_REDIS_URL", help="Use this Redis instead of starting one.")] = None,
) -> None:
    """Run Redis, Chroma, the three workers, the API and Flower until Ctrl-C or SIGTERM."""
    stack = _stack(data_dir, host, StackPorts(api_port, flower_port, chroma_port, redis_port), redis_url)
    with _running(stack):
        _print_urls(stack)
        _wait_for_signal(stack)


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(envvar="RAGLINE_DATA_DIR")] = Path("data"),
    host: str = "127.0.0.1",
    api_port: int = StackPorts.api,
    flower_port: int = StackPorts.flower,
    chroma_port: int = StackPorts.chroma,
    redis_port: int = StackPorts.redis,
    keep: Annotated[bool, typer.Option(help="Keep the stack running after the answer, until Ctrl-C.")] = True,
    question: str = DEMO_QUESTION,
) -> None:
    """Start the local stack, ingest a sample PDF, ask a question and print the cited answer."""
    stack = _stack(data_dir, host, StackPorts(api_port, flower_port, chroma_port, redis_port), None)
    with _running(stack):
        client = RaglineClient(stack.api_url)
        job = _ingest_with_progress(client, "demo", [SAMPLES_DIR / DEMO_PDF])[0]
        if job["state"] != "done":
            raise typer.Exit(EXIT_FAILED)
        console.rule(f"[bold]Q: {question}")
        _print_answer(client.ask("demo", question))
        _print_urls(stack)
        if keep:
            _wait_for_signal(stack)


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
        table = Table("file", "state", "pages", "chunks", "seconds", "reason")
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
    job_id: str,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    as_json: JsonOutput = False,
) -> None:
    """Show one ingest job: state, stage, progress, timings or the reason it failed."""
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
    table = Table("document_id", "filename", "pages", "chunks", "state")
    for document in listed:
        table.add_row(document["document_id"][:12], document["filename"], str(document["pages"]), str(document["chunks"]), document["state"])
    console.print(table)


# ---- helpers ---------------------------------------------------------------------------------


def _stack(data_dir: Path, host: str, ports: StackPorts, redis_url: str | None) -> LocalStack:
    return LocalStack(data_dir=data_dir, ports=ports, redis_url=redis_url, host=host)


class _running:
    """Start the stack, turn a start failure into a clear message and exit code, always stop."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack

    def __enter__(self) -> LocalStack:
        # SIGTERM must unwind like Ctrl-C so the children are stopped, not orphaned.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.stack.start()
        except StackError as exc:
            errors.print(f"[red]could not start the local stack:[/] {exc}")
            raise typer.Exit(EXIT_UNREACHABLE) from exc
        return self.stack

    def __exit__(self, exc_type: type | None, *_: object) -> bool:
        errors.print("stopping the local stack...")
        self.stack.stop()
        return exc_type is KeyboardInterrupt


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_for_signal(stack: LocalStack) -> None:
    console.print("[dim]Press Ctrl-C to stop.")
    stopped = threading.Event()
    while not stopped.wait(1.0):
        dead = stack.dead_services()
        if dead:
            errors.print(f"[red]{', '.join(dead)} stopped unexpectedly; shutting down")
            raise typer.Exit(EXIT_FAILED)


def _print_urls(stack: LocalStack) -> None:
    console.print(f"API docs: {stack.api_url}/docs")
    if stack.flower_url:
        console.print(f"Flower:   {stack.flower_url}")


def _ingest_with_progress(client: RaglineClient, collection: str, paths: list[Path], quiet: bool = False) -> list[dict]:
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
                counts = job["progress"]
                total = counts["pages_total"] + counts["chunks_total"]
                progress.update(bar, total=total or None, completed=counts["pages_done"] + counts["chunks_done"], stage=job["stage"])

            finished.append(client.wait(upload["job_id"], on_update=update))
    return finished


def _rejected_job(path: Path, error: ApiError) -> dict:
    """An upload the API refused, shaped like a failed job so the summary has one row per file."""
    return {
        "filename": path.name, "state": "failed", "error": error.detail, "error_code": error.code,
        "progress": {"pages_total": 0, "chunks_total": 0}, "timings": {},
    }


def _print_answer(answer: dict) -> None:
    console.print(answer["answer"])
    if not answer["citations"]:
        return
    table = Table("#", "file", "page", "score", "text")
    for number, citation in enumerate(answer["citations"], start=1):
        snippet = " ".join(citation["text"].split())[:100]
        table.add_row(str(number), citation["filename"], str(citation["page"]), f"{citation['score']:.2f}", snippet)
    console.print(table)


class _api_errors:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, _: object) -> bool:
        if isinstance(exc, ApiError):
            errors.print(f"[red]error:[/] {exc.detail} ({exc.code})")
            raise typer.Exit(EXIT_UNREACHABLE)
        if exc is not None and exc_type is not None and exc_type.__module__.startswith("httpx"):
            errors.print(f"[red]cannot reach the API:[/] {exc}")
            raise typer.Exit(EXIT_UNREACHABLE)
        return False


if __name__ == "__main__":
    app()
