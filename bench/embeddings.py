"""Local embedding throughput and quality per runtime, batch size and thread count, in one run.

    .venv/bin/python bench/embeddings.py [--chunks 400] [--repeats 3]

Embeds the first --chunks chunks (1000/150) of the 467-page book with
  - sentence-transformers on torch (the `torch` runtime),
  - the same weights exported to ONNX, quantized to int8 by NNCF and run on OpenVINO (`openvino-int8`),
  - the same export quantized dynamically and run on ONNX Runtime (`onnx-int8`),
each over a few batch sizes and thread counts, and prints chunks/s per setting. The three default
settings are timed --repeats times, alternating, and compared by their medians.

Quality, per runtime: cosine of each int8 vector to its torch vector, and page recall@5 of in-process
retrieval (top-5 chunks by cosine over the documents of bench/eval_questions.yaml; a hit is a chunk of
a page that holds the answer). Target for the default runtime: >= 2.2x torch, recall@5 within 1 point.
The load average is printed at the start and the end: other work on the machine slows every runtime.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.eval import DEFAULT_QUESTIONS, load_questions, sample  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.domain import Chunk  # noqa: E402
from ragline.pipeline.extract import read_pages  # noqa: E402
from ragline.pipeline.sniff import detect_format  # noqa: E402
from ragline.pipeline.split import split_pages  # noqa: E402
from ragline.providers.embeddings import Embedder, LocalMiniLM, local_runtime  # noqa: E402
from ragline.providers.onnx_minilm import DEFAULT_BATCH_SIZE, OnnxMiniLM, OpenVinoMiniLM  # noqa: E402

SAMPLES = REPO / "samples" / "pdfs"
BOOK = SAMPLES / "art_of_public_speaking_gutenberg.pdf"
NAME = Settings().embedding_model_name
QUANTIZED = {"openvino-int8": OpenVinoMiniLM, "onnx-int8": OnnxMiniLM}


def chunks_of(document: Path) -> list[Chunk]:
    data = document.read_bytes()
    return split_pages(read_pages(data, detect_format(data, document.name)), 1000, 150)


def rate(embed: Callable[[list[str]], list[list[float]]], texts: list[str]) -> float:
    started = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - started)


def torch_model(batch_size: int, threads: int) -> LocalMiniLM:
    torch_threads(threads)
    return LocalMiniLM(NAME, batch_size=batch_size)


def torch_threads(threads: int) -> None:
    """Process-wide in torch: set back after each thread-count row."""
    import torch

    torch.set_num_threads(threads)


def page_recall_at_5(embed_documents: Callable[[list[str]], list[list[float]]], embed_query: Callable[[str], list[float]]) -> tuple[int, int]:
    documents, questions = load_questions(DEFAULT_QUESTIONS)
    corpus = [(name, chunk) for name in documents for chunk in chunks_of(sample(name))]
    located = [(name, chunk.page) for name, chunk in corpus]
    texts = [chunk.text for _, chunk in corpus]
    matrix = np.asarray(embed_documents(texts), dtype=np.float32)
    answerable = [q for q in questions if q.answerable]
    hits = 0
    for question in answerable:
        scores = matrix @ np.asarray(embed_query(question.question), dtype=np.float32)
        top = {located[i] for i in np.argsort(-scores)[:5]}
        hits += any((question.file, page) in top for page in question.pages)
    return hits, len(answerable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts = [chunk.text for chunk in chunks_of(BOOK)[: args.chunks]]
    cores = os.cpu_count() or 1
    print(f"{len(texts)} chunks of {BOOK.name}, {cores} cores, load average {load_average()} "
          "(shared machine: expect noise; compare ratios)")

    with tempfile.TemporaryDirectory() as cache:
        models: dict[str, Embedder] = {}
        for runtime, quantized in QUANTIZED.items():
            started = time.perf_counter()
            models[runtime] = quantized(NAME, Path(cache), threads=cores)
            print(f"{runtime} model built (export + quantize) in {time.perf_counter() - started:.1f} s")
        models["torch"] = torch_model(32, cores)
        for model in models.values():
            model.embed_documents(texts[:32])  # warm-up

        print(f"\n{'runtime':<14} {'batch':>5} {'threads':>7} {'chunks/s':>9}")
        rates: dict[str, list[float]] = {runtime: [] for runtime in models}
        for _ in range(args.repeats):
            for runtime, model in models.items():
                rates[runtime].append(rate(model.embed_documents, texts))
        medians = {runtime: statistics.median(values) for runtime, values in rates.items()}
        for runtime, median in medians.items():
            batch_size = 32 if runtime == "torch" else DEFAULT_BATCH_SIZE
            print(f"{runtime:<14} {batch_size:5d} {cores:7d} {median:9.1f}  (median of {args.repeats}, alternating)")
        for batch_size, threads in ((16, cores), (32, 1)):
            print(f"{'torch':<14} {batch_size:5d} {threads:7d} {rate(torch_model(batch_size, threads).embed_documents, texts):9.1f}")
        torch_threads(cores)
        for runtime, quantized in QUANTIZED.items():
            for batch_size, threads in ((8, cores), (32, cores), (DEFAULT_BATCH_SIZE, 1)):
                other = quantized(NAME, Path(cache), batch_size=batch_size, threads=threads)
                print(f"{runtime:<14} {batch_size:5d} {threads:7d} {rate(other.embed_documents, texts):9.1f}")

        reference = np.asarray(models["torch"].embed_documents(texts))
        cosines = {
            runtime: np.sum(np.asarray(models[runtime].embed_documents(texts)) * reference, axis=1) for runtime in QUANTIZED
        }
        hits: dict[str, int] = {}
        for runtime, model in models.items():
            hits[runtime], total = page_recall_at_5(model.embed_documents, model.embed_query)
        query_ms = {}
        for runtime, model in models.items():
            samples = []
            for _ in range(30):
                started = time.perf_counter()
                model.embed_query("What should a speaker do about stage fright?")
                samples.append((time.perf_counter() - started) * 1000)
            query_ms[runtime] = statistics.median(samples)

    print()
    for runtime, values in cosines.items():
        print(f"cosine({runtime}, torch): mean {values.mean():.4f}, min {values.min():.4f}")
    print(f"page recall@5 ({total} answerable questions): "
          + ", ".join(f"{runtime} {hits[runtime]}/{total} = {100 * hits[runtime] / total:.1f}%" for runtime in models))
    print("query embedding p50: " + ", ".join(f"{runtime} {query_ms[runtime]:.1f} ms" for runtime in models))
    print(f"load average at the end: {load_average()}")
    default = local_runtime(Settings())
    for runtime in QUANTIZED:
        target = " (target >= 2.2x: the default runtime)" if runtime == default else ""
        print(f"{runtime} / torch throughput: {medians[runtime] / medians['torch']:.2f}x{target}")
    for runtime in QUANTIZED:
        print(f"{runtime} recall@5 difference: {100 * (hits[runtime] - hits['torch']) / total:+.1f} points (target: within 1 point)")


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
