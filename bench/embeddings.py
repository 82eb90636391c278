"""Local embedding throughput and quality per runtime, batch size and thread count, in one run.

    .venv/bin/python bench/embeddings.py [--chunks 400] [--repeats 3]

Embeds the first --chunks chunks (1000/150) of the 467-page book with
  - sentence-transformers on torch (the `torch` runtime), and
  - the same weights exported to ONNX and quantized to int8 here (the `onnx-int8` runtime),
each over a few batch sizes and thread counts, and prints chunks/s per setting. The two default
settings are timed --repeats times, alternating, and compared by their medians.

Quality, for both runtimes: cosine of each int8 vector to its torch vector, and page recall@5 of
in-process retrieval (top-5 chunks by cosine over the documents of bench/eval_questions.yaml; a hit is
a chunk of a page that holds the answer). Target: >= 2.2x torch, recall@5 within 1 point.
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

from bench.eval import DEFAULT_QUESTIONS, load_questions  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.domain import Chunk  # noqa: E402
from ragline.pipeline.extract import read_pages  # noqa: E402
from ragline.pipeline.split import split_pages  # noqa: E402
from ragline.providers.embeddings import LocalMiniLM  # noqa: E402
from ragline.providers.onnx_minilm import OnnxMiniLM  # noqa: E402

SAMPLES = REPO / "samples" / "pdfs"
BOOK = SAMPLES / "art_of_public_speaking_gutenberg.pdf"
NAME = Settings().embedding_model_name


def chunks_of(pdf: Path) -> list[Chunk]:
    return split_pages(read_pages(pdf.read_bytes()), 1000, 150)


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
    corpus = [(name, chunk) for name in documents for chunk in chunks_of(SAMPLES / name)]
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
    print(f"{len(texts)} chunks of {BOOK.name}, {cores} cores (shared machine: expect noise; compare ratios)")

    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        onnx = OnnxMiniLM(NAME, Path(cache), threads=cores)
        print(f"onnx-int8 model built (export + optimize + quantize) in {time.perf_counter() - started:.1f} s")
        torch_default = torch_model(32, cores)
        for model in (onnx, torch_default):
            model.embed_documents(texts[:32])  # warm-up

        print(f"\n{'runtime':<10} {'batch':>5} {'threads':>7} {'chunks/s':>9}")
        torch_rates, onnx_rates = [], []
        for _ in range(args.repeats):
            torch_rates.append(rate(torch_default.embed_documents, texts))
            onnx_rates.append(rate(onnx.embed_documents, texts))
        print(f"{'torch':<10} {32:5d} {cores:7d} {statistics.median(torch_rates):9.1f}  (median of {args.repeats})")
        print(f"{'onnx-int8':<10} {16:5d} {cores:7d} {statistics.median(onnx_rates):9.1f}  (median of {args.repeats})")
        for batch_size, threads in ((16, cores), (64, cores), (32, 1)):
            print(f"{'torch':<10} {batch_size:5d} {threads:7d} {rate(torch_model(batch_size, threads).embed_documents, texts):9.1f}")
        torch_threads(cores)
        for batch_size, threads in ((8, cores), (32, cores), (64, cores), (16, 1)):
            other = OnnxMiniLM(NAME, Path(cache), batch_size=batch_size, threads=threads)
            print(f"{'onnx-int8':<10} {batch_size:5d} {threads:7d} {rate(other.embed_documents, texts):9.1f}")

        cosines = np.sum(np.asarray(onnx.embed_documents(texts)) * np.asarray(torch_default.embed_documents(texts)), axis=1)
        torch_hits, total = page_recall_at_5(torch_default.embed_documents, torch_default.embed_query)
        onnx_hits, _ = page_recall_at_5(onnx.embed_documents, onnx.embed_query)
        query_ms = {}
        for label, model in (("torch", torch_default), ("onnx-int8", onnx)):
            samples = []
            for _ in range(30):
                started = time.perf_counter()
                model.embed_query("What should a speaker do about stage fright?")
                samples.append((time.perf_counter() - started) * 1000)
            query_ms[label] = statistics.median(samples)

    speedup = statistics.median(onnx_rates) / statistics.median(torch_rates)
    print(f"\ncosine(onnx-int8, torch): mean {cosines.mean():.4f}, min {cosines.min():.4f}")
    print(f"page recall@5 ({total} answerable questions): torch {torch_hits}/{total} = {100 * torch_hits / total:.1f}%, "
          f"onnx-int8 {onnx_hits}/{total} = {100 * onnx_hits / total:.1f}%")
    print(f"query embedding p50: torch {query_ms['torch']:.1f} ms, onnx-int8 {query_ms['onnx-int8']:.1f} ms")
    print(f"onnx-int8 / torch throughput: {speedup:.2f}x (target >= 2.2x)")
    print(f"recall@5 difference: {100 * (onnx_hits - torch_hits) / total:+.1f} points (target: within 1 point)")


if __name__ == "__main__":
    main()
