"""Answer quality through the running service, in one run: retrieval, reranking and answers, per configuration.

    .venv/bin/python bench/eval.py                     # the table (about 15 min with SmolLM2)
    .venv/bin/python bench/eval.py --llm qwen          # Qwen2.5-Coder-1.5B (`pip install '.[llm]'`; about 90 min)
    .venv/bin/python bench/eval.py --no-generative     # extractive only, with and without reranking (about 5 min)
    .venv/bin/python bench/eval.py --configs hybrid/generative/none,hybrid/extractive/llm
    .venv/bin/python bench/eval.py --check             # check the question set against the PDFs

Starts a local stack on free ports with a local chat model (llama.cpp's OpenAI-compatible server, as
`ragline up --llm` runs it: SmolLM2-135M-Instruct from PyPI by default), ingests the sample PDFs named
in the question file into one collection, then asks every question over HTTP in each configuration
`retrieval/answers/rerank`: vector or hybrid retrieval, extractive or generative answers, and the
reranking step (none, sentences, llm; the API is restarted with RAGLINE_RERANK for each).
The answer cache is off, so every answer is computed.

Per configuration it prints, over the questions whose answer is in the documents:
  recall@1 / recall@5  the first / any of the first five citations is on a page that holds the answer
  MRR                  mean of 1 / rank of the first citation on such a page (0 when none is)
  accuracy             the answer is grounded and contains one of the question's `match` strings
  false not-found      the service said "not found" although the documents hold the answer
and over the questions answered in none of the documents:
  not-found            the service said so (grounded: false) instead of answering
plus how often a generative answer was replaced by the extractive one (fallback), how often the
answer cites its sources in the requested mode (cited: grounded, not a fallback, with a citation
marker), and the p50/p95 seconds per question as the client saw them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragline.config import Settings  # noqa: E402
from ragline.localstack import LocalChatModel, LocalStack  # noqa: E402
from ragline.pipeline.extract import read_pages  # noqa: E402
from ragline.pipeline.sniff import detect_format  # noqa: E402
from ragline.providers.llama_server import QWEN_CODER_1_5B, prepare  # noqa: E402
from tests.answers.llama_server import smollm2  # noqa: E402
from tests.conftest import SAMPLES, free_ports, upload, wait_for_job  # noqa: E402

DEFAULT_QUESTIONS = REPO / "bench" / "eval_questions.yaml"
DOCUMENTS = REPO / "samples" / "documents"
COLLECTION = "eval"
# retrieval/answers/rerank: the before (no reranking) and after of each answer mode.
CONFIGURATIONS = [
    "vector/extractive/none", "hybrid/extractive/none", "hybrid/extractive/sentences", "hybrid/extractive/llm",
    "hybrid/generative/none", "hybrid/generative/sentences",
]
_PLAIN = {ord(c): "'" for c in "‘’"} | {ord(c): '"' for c in "“”"} | {ord(c): "-" for c in "‐‑–—"}


@dataclass(frozen=True)
class Question:
    question: str
    file: str | None = None
    pages: tuple[int, ...] = ()
    answer: str | None = None
    match: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.file is not None


@dataclass
class Outcome:
    """One question asked in one configuration, as the service answered it."""

    question: Question
    answer: str
    grounded: bool
    mode: str
    citations: list[tuple[str, int]]
    scores: list[float]
    seconds: float

    @property
    def rank(self) -> int | None:
        """1-based rank of the first citation on a page that holds the answer."""
        expected = {(self.question.file, page) for page in self.question.pages}
        return next((n for n, cited in enumerate(self.citations, start=1) if cited in expected), None)

    @property
    def correct(self) -> bool:
        if not self.question.answerable:
            return not self.grounded
        text = normalize(self.answer)
        return self.grounded and any(normalize(m) in text for m in self.question.match)


@dataclass
class Scores:
    retrieval: str
    mode: str
    rerank: str = "none"
    outcomes: list[Outcome] = field(default_factory=list)

    def row(self) -> dict[str, float]:
        answerable = [o for o in self.outcomes if o.question.answerable]
        unanswerable = [o for o in self.outcomes if not o.question.answerable]
        ranks = [o.rank for o in answerable]
        return {
            "recall@1": _share(r == 1 for r in ranks),
            "recall@5": _share(r is not None and r <= 5 for r in ranks),
            "MRR": statistics.fmean(1 / r if r else 0.0 for r in ranks),
            "accuracy": _share(o.correct for o in answerable),
            "false not-found": _share(not o.grounded for o in answerable),
            "not-found": _share(o.correct for o in unanswerable),
            "fallback": _share(o.mode == "extractive_fallback" for o in self.outcomes),
            "cited": _share(o.grounded and o.mode != "extractive_fallback" and "[" in o.answer for o in answerable),
            "p50 s": statistics.median(o.seconds for o in self.outcomes),
            "p95 s": _p95([o.seconds for o in self.outcomes]),
        }


def normalize(text: str) -> str:
    """Lower-cased, curly quotes and dashes made plain, whitespace collapsed.

    >>> normalize("AD 2018–23–51,  “Quoted”")
    'ad 2018-23-51, "quoted"'
    """
    return " ".join(text.lower().translate(_PLAIN).split())


def load_questions(path: Path) -> tuple[list[str], list[Question]]:
    raw = yaml.safe_load(path.read_text())
    questions = [
        Question(
            question=q["question"],
            file=q.get("file"),
            pages=tuple(q.get("pages", ())),
            answer=q.get("answer"),
            match=tuple(q.get("match", ())),
        )
        for q in raw["questions"]
    ]
    return list(raw["documents"]), questions


def check(documents: list[str], questions: list[Question]) -> int:
    """Every answerable question's match strings must be on one of its pages; report other pages too."""
    texts = {name: {p.page: normalize(p.text) for p in read_pages(data, detect_format(data, name))} for name, data in
             ((name, sample(name).read_bytes()) for name in documents)}
    problems = 0
    for q in questions:
        if not q.answerable:
            continue
        if q.file not in texts or not q.match:
            print(f"ERROR {q.question!r}: file not in documents or no match strings")
            problems += 1
            continue
        holding = {page for page, text in texts[q.file].items() if any(normalize(m) in text for m in q.match)}
        if not holding & set(q.pages):
            print(f"ERROR {q.question!r}: no match on pages {list(q.pages)} (found on {sorted(holding)})")
            problems += 1
        elif holding - set(q.pages):
            print(f"note  {q.question!r}: also matched on pages {sorted(holding - set(q.pages))}")
    answerable = sum(q.answerable for q in questions)
    print(f"{len(questions)} questions: {answerable} answerable, {len(questions) - answerable} in no document; {problems} problems")
    return 1 if problems else 0


def ask_all(api: httpx.Client, questions: list[Question], configuration: str, top_k: int) -> Scores:
    retrieval, mode, rerank = configuration.split("/")
    scores = Scores(retrieval, mode, rerank)
    for q in questions:
        started = time.perf_counter()
        response = api.post(
            f"/v1/collections/{COLLECTION}/query",
            json={"question": q.question, "top_k": top_k, "retrieval": retrieval, "mode": mode},
        )
        response.raise_for_status()
        body = response.json()
        scores.outcomes.append(
            Outcome(
                question=q,
                answer=body["answer"],
                grounded=body["grounded"],
                mode=body["mode"],
                citations=[(c["filename"], c["page"]) for c in body["citations"]],
                scores=[c["score"] for c in body["citations"]],
                seconds=time.perf_counter() - started,
            )
        )
    return scores


def print_table(all_scores: list[Scores], threshold: float, questions: list[Question], model: str) -> None:
    answerable = sum(q.answerable for q in questions)
    print(
        f"\n{answerable} questions answered in the documents, {len(questions) - answerable} in none; "
        f"relevance threshold {threshold:g}; chat model {model}\n"
    )
    columns = list(all_scores[0].row())
    print("| retrieval | answers | rerank | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "---:|" * len(columns))
    for scores in all_scores:
        row = scores.row()
        cells = [f"{row[c]:.2f}" if c in ("MRR", "p50 s", "p95 s") else f"{row[c]:.0%}" for c in columns]
        print(f"| {scores.retrieval} | {scores.mode} | {scores.rerank} | " + " | ".join(cells) + " |")


def sample(name: str) -> Path:
    """A sample document: a PDF of samples/pdfs, or a file of another format in samples/documents."""
    return SAMPLES / name if (SAMPLES / name).exists() else DOCUMENTS / name


def format_of(name: str) -> str:
    """The row a question's file counts in, per format (the scanned page and the PDF table on their own)."""
    return {"scanned_wikipedia_ocr_page_no_text.pdf": "scanned PDF (OCR)", "fbi_nics_checks_2015_11_table.pdf": "PDF table"}.get(
        name, Path(name).suffix.lstrip(".").upper()
    )


def print_formats(all_scores: list[Scores]) -> None:
    """recall@1, recall@5 and accuracy per format of the file holding the answer, per configuration."""
    print("\n| retrieval | answers | rerank | format | questions | recall@1 | recall@5 | accuracy |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for scores in all_scores:
        groups: dict[str, list[Outcome]] = {}
        for outcome in scores.outcomes:
            if outcome.question.answerable:
                groups.setdefault(format_of(outcome.question.file or ""), []).append(outcome)
        for name, outcomes in sorted(groups.items()):
            row = Scores(scores.retrieval, scores.mode, scores.rerank, outcomes).row()
            cells = " | ".join(f"{row[c]:.0%}" for c in ("recall@1", "recall@5", "accuracy"))
            print(f"| {scores.retrieval} | {scores.mode} | {scores.rerank} | {name} | {len(outcomes)} | {cells} |")


def print_sweep(all_scores: list[Scores], thresholds: list[float]) -> None:
    """What other relevance thresholds would do, from answers given with threshold 0 (every retrieved
    passage cited, with its cosine score): "not found" replies and page recall, exactly; the
    extractive answer text itself would change too, so accuracy is not estimated."""
    print("\n| retrieval | threshold | recall@1 | recall@5 | false not-found | not-found |")
    print("|---|---:|---:|---:|---:|---:|")
    for scores in all_scores:
        if scores.mode != "extractive":
            continue
        for threshold in thresholds:
            kept = [
                Outcome(o.question, o.answer, any(s >= threshold for s in o.scores), o.mode,
                        [c for c, s in zip(o.citations, o.scores, strict=True) if s >= threshold], [], o.seconds)
                for o in scores.outcomes
            ]
            row = Scores(scores.retrieval, scores.mode, scores.rerank, kept).row()
            cells = [row[c] for c in ("recall@1", "recall@5", "false not-found", "not-found")]
            print(f"| {scores.retrieval} | {threshold:.2f} | " + " | ".join(f"{c:.0%}" for c in cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--check", action="store_true", help="check the questions against the PDFs and exit")
    parser.add_argument("--no-generative", action="store_true", help="no generative answers (the chat model still reranks)")
    parser.add_argument("--llm", choices=("smollm2", "qwen"), default="smollm2", help="the local chat model")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="ask every Nth question only (a 1.5B model on a busy 2-core machine takes minutes per answer)")
    parser.add_argument("--configs", type=lambda s: s.split(","), default=CONFIGURATIONS, metavar="R/A/K,...",
                        help="retrieval/answers/rerank configurations, in order (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=Settings().relevance_threshold, help="RAGLINE_RELEVANCE_THRESHOLD")
    parser.add_argument("--top-k", type=int, default=Settings().default_top_k)
    parser.add_argument("--details", type=Path, help="write every answer and its citations here (JSON)")
    parser.add_argument(
        "--sweep", type=lambda s: [float(t) for t in s.split(",")], metavar="T1,T2,...",
        help="with --threshold 0: the not-found and recall figures each of these thresholds would give",
    )
    args = parser.parse_args()

    # A stopped run must stop its stack too (the `with` below), not leave its servers behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    documents, questions = load_questions(args.questions)
    if args.check:
        return check(documents, questions)
    questions = questions[:: args.every]
    configurations = [c for c in args.configs if not (args.no_generative and "/generative/" in c)]

    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "eval.log", "w") as log:
        env = {
            "RAGLINE_ANSWER_CACHE_TTL_SECONDS": "0",
            "RAGLINE_RELEVANCE_THRESHOLD": str(args.threshold),
            "RAGLINE_QUERY_TIMEOUT_SECONDS": "300",
            "RAGLINE_LLM_TIMEOUT_SECONDS": "300",
            "RAGLINE_LLM_MAX_TOKENS": "128",
        }
        chat_model = smollm2() if args.llm == "smollm2" else LocalChatModel(prepare(QWEN_CODER_1_5B, Settings().model_cache_path), QWEN_CODER_1_5B.alias)
        with LocalStack(Path(data_dir), ports=free_ports(), with_flower=False, extra_env=env, log=log, chat_model=chat_model) as stack:
            with httpx.Client(base_url=stack.api_url, timeout=600) as api:
                for name in documents:
                    started = time.perf_counter()
                    response = upload(api, COLLECTION, name, sample(name).read_bytes())
                    response.raise_for_status()
                    job = wait_for_job(api, response.json()["job_id"], timeout=1800)
                    if job["state"] != "done":
                        raise SystemExit(f"ingest of {name} failed: {job['error']}")
                    seconds, progress = time.perf_counter() - started, job["progress"]
                    print(f"ingested {name}: {progress['pages_total']} pages ({progress['pages_ocr']} by OCR), "
                          f"{progress['chunks_total']} chunks in {seconds:.1f} s, {progress['pages_total'] / seconds:.2f} pages/s", flush=True)
                all_scores = []
                for configuration in configurations:
                    use_rerank(stack, configuration.split("/")[2])
                    started = time.perf_counter()
                    all_scores.append(ask_all(api, questions, configuration, args.top_k))
                    print(f"asked {len(questions)} questions: {configuration} in {time.perf_counter() - started:.0f} s", flush=True)
                    print_table(all_scores[-1:], args.threshold, questions, chat_model.alias)

    print_table(all_scores, args.threshold, questions, chat_model.alias)
    print_formats(all_scores)
    if args.sweep:
        print_sweep(all_scores, args.sweep)
    if args.details:
        details = [
            {"retrieval": s.retrieval, "mode": s.mode, "rerank": s.rerank, "question": o.question.question, "expected": o.question.answer,
             "pages": [o.question.file, *o.question.pages], "answer": o.answer, "answered_mode": o.mode,
             "grounded": o.grounded, "correct": o.correct, "rank": o.rank, "citations": o.citations, "scores": o.scores}
            for s in all_scores for o in s.outcomes
        ]
        args.details.write_text(json.dumps(details, indent=1))
    return 0


def use_rerank(stack: LocalStack, rerank: str) -> None:
    """Restart the API with RAGLINE_RERANK=rerank, unless it already runs with it: the API resolves
    the reranking step into each query task, and the query worker does what the task says."""
    api = stack.service("api")
    if api.env.get("RAGLINE_RERANK", "none") == rerank:
        return
    api.env["RAGLINE_RERANK"] = rerank
    assert api.process is not None
    os.killpg(api.process.pid, signal.SIGTERM)
    api.process.wait()
    stack.restart("api")


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def _share(flags: object) -> float:
    values = list(flags)  # type: ignore[call-overload]
    return sum(values) / len(values) if values else 0.0


if __name__ == "__main__":
    sys.exit(main())
