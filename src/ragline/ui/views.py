"""HTML fragments of the UI, built from the API's JSON: upload progress, answers and their sources.

Everything that comes from a document or a user is escaped: a PDF's text is not markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

SNIPPET_CHARS = 320
_MARKER = re.compile(r"\[(\d+)\]")
_CITED_SENTENCE = re.compile(r"\s*(.+?)\s*((?:\[\d+\])+)")


@dataclass
class Upload:
    """One file of an upload batch: the API's job for it, or why the API refused it."""

    filename: str
    job: dict | None = None
    refused: str | None = None
    duplicate: bool = False

    @property
    def finished(self) -> bool:
        return self.refused is not None or (self.job is not None and self.job["state"] in ("done", "failed"))


def uploads_html(uploads: list[Upload]) -> str:
    """A card per file with a progress bar for pages read and one for chunks indexed."""
    return "".join(_upload_html(upload) for upload in uploads)


def _upload_html(upload: Upload) -> str:
    name = escape(upload.filename)
    if upload.refused is not None:
        return (
            f'<div class="rl-job rl-failed" data-state="failed"><div class="rl-job-head"><b>{name}</b>'
            f'<span class="rl-state">refused</span></div><div class="rl-error">{escape(upload.refused)}</div></div>'
        )
    job = upload.job or {"state": "queued", "stage": "uploading", "progress": {}, "timings": {}}
    counts = job["progress"]
    state = job["state"]
    summary = {
        "done": "already indexed" if upload.duplicate else f"done in {job['timings'].get('total', 0):.1f} s",
        "failed": "failed",
    }.get(state, escape(job["stage"]))
    bars = _bar("pages read", counts.get("pages_done", 0), counts.get("pages_total", 0)) + _bar(
        "chunks indexed", counts.get("chunks_done", 0), counts.get("chunks_total", 0)
    )
    error = ""
    if state == "failed":
        reason = job.get("error") or "the job failed"
        code = f" ({escape(job['error_code'])})" if job.get("error_code") else ""
        error = f'<div class="rl-error">{escape(reason)}{code}</div>'
    return (
        f'<div class="rl-job rl-{escape(state)}" data-state="{escape(state)}"><div class="rl-job-head"><b>{name}</b>'
        f'<span class="rl-state">{summary}</span></div>{bars}{error}</div>'
    )


def _bar(label: str, done: int, total: int) -> str:
    percent = round(100 * done / total) if total else 0
    count = f"{done}/{total}" if total else "–"
    return (
        f'<div class="rl-bar-row"><span class="rl-bar-label">{label}</span>'
        f'<div class="rl-bar" role="progressbar" aria-label="{label}" aria-valuemin="0" '
        f'aria-valuemax="{total}" aria-valuenow="{done}"><div style="width:{percent}%"></div></div>'
        f'<span class="rl-bar-count">{count}</span></div>'
    )


def header_html(notice: str = "") -> str:
    """The page's title, and a notice about the connection to the API when there is one."""
    return (
        '<div class="rl-header"><h1>ragline</h1><p>Upload documents, ask questions, read the cited pages and passages.</p>'
        f"{message_html(notice, 'error') if notice else ''}</div>"
    )


def documents_html(listed: list[dict]) -> str:
    """The collection's documents: file, pages, chunks and state."""
    if not listed:
        return message_html("No documents in this collection yet.")
    rows = "".join(
        f'<tr data-state="{escape(d["state"])}"><td class="rl-file">{escape(d["filename"])}</td><td>{d["pages"]}</td>'
        f'<td>{d["chunks"]}</td><td class="rl-{escape(d["state"])}">{escape(d["state"])}</td></tr>'
        for d in listed
    )
    return f'<table class="rl-documents"><tr><th>file</th><th>pages</th><th>chunks</th><th>state</th></tr>{rows}</table>'


def answer_html(text: str, writing: bool = False, meta: str = "") -> str:
    """The answer with its citation marks as superscripts; a cursor while it is still being written."""
    body = _MARKER.sub(r'<sup class="rl-ref">[\1]</sup>', escape(text))
    cursor = '<span class="rl-cursor">▍</span>' if writing else ""
    return f'<div class="rl-answer" data-writing="{str(writing).lower()}">{body}{cursor}</div>{meta}'


def message_html(text: str, kind: str = "info") -> str:
    """A one-line notice: kind is info or error."""
    return f'<div class="rl-{kind}">{escape(text)}</div>'


def answer_meta_html(answer: dict, done: dict) -> str:
    """Trace id (when the API sends one), cache hit and time, under the answer."""
    parts = []
    trace_id = done.get("trace_id") or answer.get("trace_id")
    if trace_id:
        parts.append(f'trace id <code class="rl-trace">{escape(trace_id)}</code>')
    if done.get("cached") or answer.get("cached"):
        parts.append("from the answer cache")
    total = (done.get("timings") or answer.get("timings") or {}).get("total")
    if total is not None:
        parts.append(f"{total:.2f} s")
    if not answer.get("grounded", True):
        parts.append("the documents do not hold the answer")
    if answer.get("standalone_question"):
        parts.append(f'understood as <q class="rl-standalone">{escape(answer["standalone_question"])}</q>')
    return f'<div class="rl-meta">{" · ".join(parts)}</div>' if parts else ""


def thread_html(questions: list[str]) -> str:
    """The questions of the conversation so far, oldest first: the next one may follow up on them."""
    if not questions:
        return ""
    items = "".join(f"<li>{escape(question)}</li>" for question in questions)
    return f'<div class="rl-thread"><span class="rl-meta">This conversation:</span><ol>{items}</ol></div>'


def sources_html(citations: list[dict], quotes: dict[int, list[str]]) -> str:
    """One line per citation: number, file, page or location and score, then the passage around what the answer took."""
    if not citations:
        return ""
    items = []
    for number, citation in enumerate(citations, start=1):
        snippet = snippet_of(citation["text"], quotes.get(number, []))
        items.append(
            f'<li class="rl-source" data-file="{escape(citation["filename"])}" data-page="{citation["page"]}"'
            f' data-location="{escape(citation.get("location", ""))}">'
            f'<div class="rl-source-head"><span class="rl-ref">[{number}]</span> <b>{escape(citation["filename"])}</b>'
            f' · {escape(place_of(citation))} · score {citation["score"]:.2f}</div>'
            f'<div class="rl-snippet">{escape(snippet)}</div></li>'
        )
    return f'<h4>Sources</h4><ol class="rl-sources">{"".join(items)}</ol>'


def quotes_by_citation(answer: str) -> dict[int, list[str]]:
    """The answer's sentences grouped by the 1-based citation numbers that follow them.

    >>> quotes_by_citation("Age is 31. [1] It rises. [2][1]")
    {1: ['Age is 31.', 'It rises.'], 2: ['It rises.']}
    """
    quotes: dict[int, list[str]] = {}
    for match in _CITED_SENTENCE.finditer(answer):
        for number in _MARKER.findall(match.group(2)):
            quotes.setdefault(int(number), []).append(match.group(1))
    return dict(sorted(quotes.items()))


def snippet_of(passage: str, quotes: list[str], chars: int = SNIPPET_CHARS) -> str:
    """About `chars` of the passage: from a little before the first quote found in it, else from its start.

    >>> snippet_of("Intro. " + "x " * 300 + "The answer is 42.", ["The answer is 42."])[:22]
    '… x x x x x x x x x x '
    """
    flat = " ".join(_MARKER.sub("", passage).split())
    start = max((flat.find(quote) for quote in quotes), default=-1)
    if start > 0:
        start = flat.find(" ", max(start - chars // 4, 0)) + 1
    start = max(start, 0)
    snippet = flat[start : start + chars]
    if start + chars < len(flat):
        snippet = snippet.rsplit(" ", 1)[0] + " …"
    return ("… " if start else "") + snippet


def numbers_by_page(citations: list[dict]) -> list[list[int]]:
    """The 1-based citation numbers of each distinct page, pages in order of their first citation.

    >>> numbers_by_page([{"document_id": "a", "page": 1}, {"document_id": "a", "page": 3}, {"document_id": "a", "page": 1}])
    [[1, 3], [2]]
    """
    pages: dict[tuple[str, int], list[int]] = {}
    for number, citation in enumerate(citations, start=1):
        pages.setdefault((citation["document_id"], citation["page"]), []).append(number)
    return list(pages.values())


def place_of(citation: dict) -> str:
    """Where a citation is: its location (slide, sheet rows, heading path) where it has one, else its page."""
    return citation.get("location") or f"page {citation['page']}"


def page_caption(numbers: list[int], citation: dict) -> str:
    marks = "".join(f"[{number}]" for number in numbers)
    return f"{marks} {citation['filename']}, {place_of(citation)}"


CSS = """
.rl-header h1 { margin: 0; }
.rl-header p { margin: 0; color: var(--body-text-color-subdued); }
.rl-documents { width: 100%; font-size: 0.9em; border-collapse: collapse; }
.rl-documents th, .rl-documents td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary); }
.rl-documents .rl-file { overflow-wrap: anywhere; }
.rl-documents .rl-done { color: #15803d; }
.rl-documents .rl-failed { color: #b91c1c; }
.rl-job { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 6px 0; }
.rl-job-head { display: flex; justify-content: space-between; gap: 8px; flex-wrap: wrap; }
.rl-job-head b { overflow-wrap: anywhere; }
.rl-state { color: var(--body-text-color-subdued); }
.rl-done .rl-state { color: #15803d; }
.rl-failed .rl-state, .rl-error { color: #b91c1c; }
.rl-bar-row { display: flex; align-items: center; gap: 8px; margin-top: 4px; font-size: 0.85em; }
.rl-bar-label { flex: 0 0 7.5em; color: var(--body-text-color-subdued); }
.rl-bar-count { flex: 0 0 5.5em; text-align: right; font-variant-numeric: tabular-nums; }
.rl-bar { flex: 1; height: 8px; background: var(--background-fill-secondary); border-radius: 4px; overflow: hidden; }
.rl-bar > div { height: 100%; background: var(--color-accent); transition: width 0.3s; }
.rl-done .rl-bar > div { background: #16a34a; }
.rl-failed .rl-bar > div { background: #dc2626; }
.rl-answer { font-size: 1.05em; line-height: 1.55; white-space: pre-wrap; }
.rl-ref { color: var(--color-accent); font-weight: 600; }
.rl-cursor { animation: rl-blink 1s steps(2) infinite; }
@keyframes rl-blink { 50% { opacity: 0; } }
.rl-meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin-top: 6px; overflow-wrap: anywhere; }
.rl-sources { padding-left: 0; list-style: none; }
.rl-source { margin: 8px 0; }
.rl-snippet { color: var(--body-text-color-subdued); font-size: 0.9em; }
.rl-info { color: var(--body-text-color-subdued); }
/* A phone shows one cited page per row, wide enough to see the highlight. */
@media (max-width: 640px) { #cited-pages .grid-container { grid-template-columns: 1fr !important; } }
"""
