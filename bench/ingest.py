"""Ingest throughput of the service against its own pipeline in one process and against the tutorial's
recipe, plus re-uploads and edited copies, all in one run on the same machine.

    .venv/bin/python bench/ingest.py [--pdf PATH ...] [--no-tutorial] [--runtime auto|openvino-int8|onnx-int8|torch]
    .venv/bin/python bench/ingest.py --processes 1 2 [--pdf PATH]    # parallel ingest of one document

Starts a local stack (Redis, Chroma, workers, API) on free ports, then for each document (default: the
467-page book and the world population article):
  1. service: HTTP upload until the job is `done` (queue, Redis hand-offs, worker), cold cache;
  2. in-process: extract -> split -> embed -> upsert with the same functions and the same overlap of
     upserts with embedding, no queue and no embedding cache, into another collection of the same
     Chroma server, with the model loaded (as in a warm worker);
  3. the tutorial's recipe: PyPDFLoader -> RecursiveCharacterTextSplitter(1000, 150).split_documents ->
     Chroma.from_documents against the same Chroma server with MiniLM on torch (sentence-transformers,
     batch 32, as HuggingFaceEmbeddings runs it), then the same with PyMuPDFLoader;
  4. the same bytes uploaded again: to the same collection (recognized, nothing done) and to another
     collection (extracted, split and upserted again, embeddings from the cache);
  5. an edited copy (one page changed): chunks the model embedded / chunks in the document.
Prints pages/s and chunks/s per path and the ratios with their targets. The machine is shared: compare
ratios measured in the same run, not figures across runs.

With --processes, instead: the first document (default: the book) through a fresh stack per count of
ingest worker processes, its page ranges fanned out over them (RAGLINE_INGEST_PAGES_PER_PART), each
process given cores / count embedding threads; prints pages/s per count and the speed-up over the first.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import httpx
import pymupdf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragline.config import Settings  # noqa: E402
from ragline.localstack import LocalStack, StackPorts, free_port  # noqa: E402
from ragline.pipeline.extract import read_pages, require_text  # noqa: E402
from ragline.pipeline.index import index_chunks  # noqa: E402
from ragline.pipeline.split import split_pages  # noqa: E402
from ragline.providers.embeddings import LocalMiniLM, create_embedder, local_runtime  # noqa: E402
from ragline.stores.background import BackgroundWriter  # noqa: E402
from ragline.stores.vectors import ChunkRecord, VectorIndex  # noqa: E402
from tests.conftest import upload, wait_for_job  # noqa: E402

SAMPLES = REPO / "samples" / "pdfs"
RUNTIME_FIELD = Settings.model_fields["local_embedding_runtime"]
DEFAULT_PDFS = [SAMPLES / "art_of_public_speaking_gutenberg.pdf", SAMPLES / "world_population_wikipedia.pdf"]


@dataclass
class Run:
    seconds: float
    pages: int
    chunks: int
    embedded: int | None = None

    def row(self, name: str) -> str:
        embedded = "" if self.embedded is None else f" {self.embedded:>5d}/{self.chunks}"
        return (
            f"  {name:<28} {self.seconds:8.2f} {self.pages:6d} {self.chunks:7d} "
            f"{self.pages / self.seconds:9.1f} {self.chunks / self.seconds:9.1f}{embedded}"
        )


def ingest_in_process(data: bytes, filename: str, settings: Settings, collection: str) -> Run:
    """The worker's steps called directly, with the same overlap of upserts and embedding."""
    embedder = create_embedder(settings)
    embedder.embed_documents(["warm-up"])
    index = VectorIndex(settings.chroma_url)
    started = time.perf_counter()
    document_id = hashlib.sha256(data).hexdigest()
    pages = list(read_pages(data))
    require_text(pages)
    chunks = split_pages(pages, settings.chunk_size, settings.chunk_overlap)

    def store(batch: tuple) -> None:
        index.upsert(collection, embedder.name, [ChunkRecord.of(document_id, filename, c) for c in batch[0]], batch[1])

    with BackgroundWriter(store) as writer:
        index_chunks(
            chunks,
            embed=embedder.embed_documents,
            store=lambda batch, vectors: writer.submit((batch, vectors)),
            batch_size=settings.embedding_batch_size,
        )
    return Run(time.perf_counter() - started, len(pages), len(chunks))


def ingest_with_tutorial_recipe(pdf: Path, loader: str, chroma_url: str, collection: str, embeddings: LocalMiniLM) -> Run:
    """https://python.langchain.com/docs/tutorials/rag/ as people write it, against the same Chroma server."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyMuPDFLoader, PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    url = httpx.URL(chroma_url)
    client = chromadb.HttpClient(host=url.host, port=url.port)
    started = time.perf_counter()
    documents = (PyPDFLoader if loader == "pypdf" else PyMuPDFLoader)(str(pdf)).load()
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=150).split_documents(documents)
    Chroma.from_documents(chunks, embedding=embeddings, client=client, collection_name=collection)
    return Run(time.perf_counter() - started, len(documents), len(chunks))


def ingest_through_service(api: httpx.Client, collection: str, filename: str, data: bytes) -> Run:
    """Upload to `done`, as a client sees it."""
    started = time.perf_counter()
    response = upload(api, collection, filename, data)
    response.raise_for_status()
    job = wait_for_job(api, response.json()["job_id"], timeout=3600)
    elapsed = time.perf_counter() - started
    if job["state"] != "done":
        raise SystemExit(f"service ingest failed: {job['error']}")
    progress = job["progress"]
    return Run(elapsed, progress["pages_total"], progress["chunks_total"], progress["chunks_embedded"])


def edited_copy(data: bytes, note: str = "Revised edition: this page was edited after the first upload.") -> bytes:
    """The same document with a sentence added to its first page."""
    document = pymupdf.open(stream=data, filetype="pdf")
    document[0].insert_text((72, 60), note)
    return document.tobytes()


def warm_up(api: httpx.Client) -> None:
    """One small document of its own, so the worker's model is loaded before anything is timed."""
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), f"Warm-up page {time.time()}.")
    ingest_through_service(api, "bench-warm-up", "warm-up.pdf", document.tobytes())


def ratio(label: str, value: float, target: str) -> None:
    print(f"  {label:<52} {value:7.2f}   (target {target})")


def bench_document(pdf: Path, api: httpx.Client, settings: Settings, tutorial: LocalMiniLM | None) -> None:
    data = pdf.read_bytes()
    tag = hashlib.sha256(data).hexdigest()[:8]
    service = ingest_through_service(api, f"svc-{tag}", pdf.name, data)
    in_process = ingest_in_process(data, pdf.name, settings, f"inproc-{tag}")
    recipes = {}
    if tutorial is not None:
        for loader in ("pypdf", "pymupdf"):
            recipes[loader] = ingest_with_tutorial_recipe(pdf, loader, settings.chroma_url, f"tutorial-{loader}-{tag}", tutorial)
    same_collection = ingest_through_service(api, f"svc-{tag}", pdf.name, data)
    other_collection = ingest_through_service(api, f"svc-again-{tag}", pdf.name, data)
    edited = ingest_through_service(api, f"svc-{tag}", f"edited-{pdf.name}", edited_copy(data))

    print(f"\n{pdf.name}")
    print(f"  {'path':<28} {'seconds':>8} {'pages':>6} {'chunks':>7} {'pages/s':>9} {'chunks/s':>9} embedded")
    print(service.row("service (upload to done)"))
    print(in_process.row("in-process pipeline"))
    for loader, run in recipes.items():
        print(run.row(f"tutorial recipe, {loader}"))
    print(same_collection.row("re-upload, same collection"))
    print(other_collection.row("re-upload, other collection"))
    print(edited.row("edited copy (1 page changed)"))
    ratio("service / in-process throughput", in_process.seconds / service.seconds, ">= 0.9")
    if recipes:
        ratio("service / tutorial recipe (PyPDFLoader)", recipes["pypdf"].seconds / service.seconds, ">= 3.0")
        ratio("service / tutorial recipe (PyMuPDFLoader)", recipes["pymupdf"].seconds / service.seconds, ">= 2.0")
    ratio("first upload / re-upload to the same collection", service.seconds / same_collection.seconds, ">= 20")
    ratio("first upload / re-upload to another collection", service.seconds / other_collection.seconds, ">= 20")
    print(f"  {'edited copy: chunks embedded / total':<52} {edited.embedded}/{edited.chunks}   (only the changed chunks)")


@contextmanager
def bench_stack(ingest_processes: int = 1) -> Iterator[tuple[LocalStack, httpx.Client]]:
    """A local stack on free ports, with its worker models warm, and a client of its API."""
    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        stack = LocalStack(Path(data_dir), ports=ports, with_flower=False, ingest_processes=ingest_processes, log=log)
        with stack, httpx.Client(base_url=stack.api_url, timeout=120) as api:
            warm_up(api)
            yield stack, api


def bench_parallel(pdf: Path, counts: list[int]) -> None:
    """One document through a fresh stack (cold embedding cache) per count of ingest processes."""
    data = pdf.read_bytes()
    cores = os.cpu_count() or 1
    runs = {}
    for count in counts:
        os.environ["RAGLINE_EMBEDDING_THREADS"] = str(max(cores // count, 1))
        with bench_stack(ingest_processes=count) as (_, api):
            runs[count] = ingest_through_service(api, "parallel", pdf.name, data)
    print(f"\n{pdf.name}: page ranges of {Settings().ingest_pages_per_part} pages over N ingest processes, {cores} cores")
    print(f"  {'path':<28} {'seconds':>8} {'pages':>6} {'chunks':>7} {'pages/s':>9} {'chunks/s':>9}")
    for count, run in runs.items():
        print(run.row(f"{count} process(es), {max(cores // count, 1)} thread(s) each"))
    for count in counts[1:]:
        ratio(f"{count} processes / {counts[0]}: pages/s", runs[counts[0]].seconds / runs[count].seconds, "see docs/scaling.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdf", type=Path, action="append", help="repeatable; default: the book and the article")
    parser.add_argument(
        "--runtime", choices=get_args(RUNTIME_FIELD.annotation), default=RUNTIME_FIELD.default, help="local embedding runtime"
    )
    parser.add_argument("--no-tutorial", action="store_true", help="skip the tutorial's recipe (slowest part)")
    parser.add_argument("--processes", type=int, nargs="+", help="compare parallel ingest with these process counts")
    args = parser.parse_args()
    pdfs = args.pdf or DEFAULT_PDFS

    # One model build for the stack and this process, kept across runs.
    model_cache = Settings().model_cache_path.resolve()
    # The stack inherits this environment; Settings() in this process reads it too.
    os.environ["RAGLINE_LOCAL_EMBEDDING_RUNTIME"] = args.runtime
    os.environ["RAGLINE_MODEL_CACHE_DIR"] = str(model_cache)
    print(f"embedding runtime: {local_runtime(Settings())}; {os.cpu_count()} cores, load average {load_average()}, "
          "shared machine (noisy)")
    if args.processes:
        bench_parallel(pdfs[0], args.processes)
        return
    with bench_stack() as (stack, api):
        settings = Settings(chroma_url=stack.chroma_url, model_cache_dir=model_cache)
        tutorial = None if args.no_tutorial else LocalMiniLM(settings.embedding_model_name)
        for pdf in pdfs:
            bench_document(pdf, api, settings, tutorial)
    print(f"\nload average at the end: {load_average()}")


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
