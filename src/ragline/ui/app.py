"""The Gradio app: pick a collection, upload documents and watch them index, ask, read the cited pages.

A client of the REST API like any other: every call goes through RaglineClient, with the API key
the UI was started with or, failing that, the one the visitor types in (kept for that page only).
A UI started with a key asks visitors to log in with that key, so reaching the UI does not hand it
out. Run it with `ragline ui --api-url URL [--api-key KEY] [--root-path /ui]`.
"""

from __future__ import annotations

import hmac
import io
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import httpx
from fastapi import FastAPI
from PIL import Image

from ragline.client import ApiError, RaglineClient
from ragline.pipeline.sniff import looks_like_pdf
from ragline.ui.pages import render_cited_page, render_passage
from ragline.ui.views import (
    CSS,
    Upload,
    answer_html,
    answer_meta_html,
    documents_html,
    header_html,
    message_html,
    numbers_by_page,
    page_caption,
    quotes_by_citation,
    sources_html,
    thread_html,
    uploads_html,
)

DEFAULT_COLLECTION = "default"
# Uploads and questions wait on the API and the workers, not on this process's CPU.
EVENT_CONCURRENCY = 16
# Gradio's copies of uploaded files: checked hourly, removed once a day old (seconds).
UPLOAD_CACHE = (3600, 86400)
# Cited PDFs kept for rendering pages; at the API's 50 MB upload limit this bounds the cache at 400 MB.
PDF_CACHE_FILES = 8
# Turns (questions and answers) of a conversation sent with the next question: the API's default
# RAGLINE_MAX_CHAT_MESSAGES is 50, and a follow-up rarely reaches further back than a few turns.
MAX_CONVERSATION_TURNS = 20
# What the file picker offers; the API judges each file by its bytes whatever its name.
UPLOAD_SUFFIXES = (
    ".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".tsv", ".html", ".htm", ".md", ".markdown", ".txt", ".epub",
    ".png", ".jpg", ".jpeg", ".tif", ".tiff",
)
# What a call to the API can raise: its refusal, or no answer at all.
API_ERRORS = (ApiError, httpx.HTTPError)


@dataclass(frozen=True)
class UiConfig:
    api_url: str
    # Held by the UI and used for every visitor, who must then log in with it.
    api_key: str | None = None
    # The path the UI is served under, e.g. /ui behind an ingress that routes by path.
    root_path: str = ""
    max_upload_bytes: int = 50 * 1024 * 1024


def create_app(config: UiConfig) -> FastAPI:
    """The UI under `config.root_path`, plus /healthz for probes."""
    app = FastAPI(title="ragline UI", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", include_in_schema=False)
    def _healthz() -> dict[str, str]:
        return {"status": "ok"}

    return gr.mount_gradio_app(
        app,
        build_blocks(config),
        path=config.root_path or "/",
        auth=_key_login(config.api_key) if config.api_key else None,
        auth_message="Log in with the API key this UI was set up with (any user name).",
        footer_links=[],
        max_file_size=config.max_upload_bytes,
        ssr_mode=False,
        theme=gr.themes.Default(primary_hue="indigo"),
        css=CSS,
    )


def build_blocks(config: UiConfig) -> gr.Blocks:
    def client(key: str) -> RaglineClient:
        return RaglineClient(config.api_url, config.api_key or key or None)

    with gr.Blocks(title="ragline", analytics_enabled=False, delete_cache=UPLOAD_CACHE) as blocks:
        visitor_key = gr.State("")
        header = gr.HTML(header_html(), elem_id="header")
        with gr.Accordion("API key", open=True, visible=False) as key_panel:
            key_box = gr.Textbox(label="API key", type="password", elem_id="api-key", placeholder="The key you were given for this service")
            use_key = gr.Button("Use this key", elem_id="use-key")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=300):
                collection = gr.Dropdown(
                    label="Collection", value=DEFAULT_COLLECTION, choices=[DEFAULT_COLLECTION], allow_custom_value=True,
                    info="Pick one, or type a new name: the first upload creates it.", elem_id="collection",
                )
                files = gr.File(label="Documents", file_count="multiple", file_types=list(UPLOAD_SUFFIXES), elem_id="files")
                ingest = gr.Button("Upload and index", variant="primary", elem_id="ingest")
                progress = gr.HTML(elem_id="progress")
                documents = gr.HTML(elem_id="documents")
                with gr.Row():
                    document = gr.Dropdown(label="Document", choices=[], elem_id="document", scale=3)
                    delete = gr.Button("Delete", variant="stop", elem_id="delete", scale=1, min_width=90)
                documents_notice = gr.HTML(elem_id="documents-notice")
            with gr.Column(min_width=300, scale=2):
                question = gr.Textbox(
                    label="Question", placeholder="What is the median age of human beings?", lines=2, elem_id="question"
                )
                with gr.Row():
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=3)
                    new_conversation = gr.Button("New conversation", elem_id="new-conversation", scale=1, min_width=90)
                # The questions asked so far: a follow-up ("and in 2050?") is understood with them.
                conversation = gr.State([])
                thread = gr.HTML(elem_id="thread")
                answer = gr.HTML(elem_id="answer")
                sources = gr.HTML(elem_id="sources")
                pages = gr.Gallery(label="Cited pages", columns=2, height="auto", object_fit="contain", elem_id="cited-pages", visible=False)

        def load(key: str, name: str) -> tuple:
            """The collections and the current one's documents; asks for a key when the API wants one."""
            asked = bool(key) and config.api_key is None
            try:
                with client(key) as api:
                    names = api.collections()
                    current = name if name in names or not names else names[0]
                    listed = api.documents(current)
            except ApiError as exc:
                if exc.status == 401 and config.api_key is None:
                    notice = f"This API needs a key ({exc.detail}): paste yours under “API key”."
                    return header_html(notice), gr.Accordion(visible=True, open=True), gr.skip(), gr.skip(), gr.skip()
                return header_html(f"The API refused: {_reason(exc)}"), gr.Accordion(visible=asked), gr.skip(), gr.skip(), gr.skip()
            except httpx.HTTPError as exc:
                return header_html(f"Cannot reach the API at {config.api_url}: {exc}"), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            # Once a key worked, the panel stays (closed) so that the key can be changed.
            panel = gr.Accordion(visible=asked, open=False)
            return header_html(), panel, gr.Dropdown(choices=sorted({*names, current}), value=current), *_documents_view(listed)

        def show_documents(key: str, name: str) -> tuple:
            try:
                with client(key) as api:
                    return (*_documents_view(api.documents(name)), "")
            except API_ERRORS as exc:
                return "", gr.Dropdown(choices=[], value=None), message_html(_reason(exc), "error")

        def upload_and_follow(key: str, name: str, paths: list[str] | None) -> Iterator[tuple]:
            """Upload each file, then follow every job's events until all have ended."""
            if not paths:
                yield message_html("Choose one or more documents first.", "error"), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                return
            uploads = [Upload(Path(path).name) for path in paths]
            with client(key) as api:
                for upload, path in zip(uploads, paths, strict=True):
                    try:
                        accepted = api.upload(name, Path(path))
                        upload.duplicate = accepted["duplicate"]
                        upload.job = api.job(accepted["job_id"])
                    except API_ERRORS as exc:
                        upload.refused = _reason(exc)
                    yield uploads_html(uploads), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                for _ in _follow_jobs(lambda: client(key), uploads):
                    yield uploads_html(uploads), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                try:
                    listed, names = api.documents(name), api.collections()
                except API_ERRORS as exc:
                    yield uploads_html(uploads) + message_html(_reason(exc), "error"), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                    return
            yield uploads_html(uploads), *_documents_view(listed), gr.Dropdown(choices=sorted({*names, name}), value=name), None

        def delete_document(key: str, name: str, document_id: str | None) -> tuple:
            if not document_id:
                return gr.skip(), gr.skip(), message_html("Pick a document to delete.", "error")
            try:
                with client(key) as api:
                    api.delete(name, document_id)
                    return (*_documents_view(api.documents(name)), message_html("Deleted."))
            except API_ERRORS as exc:
                return gr.skip(), gr.skip(), message_html(_reason(exc), "error")

        def ask_question(key: str, name: str, text: str, turns: list[list[str]]) -> Iterator[tuple]:
            """The answer as it is written, then its sources and the pictures of the cited pages; the
            question and its answer join the conversation."""
            no_pages = gr.Gallery(value=[], visible=False)
            unchanged = (gr.skip(), gr.skip())
            if not text.strip():
                yield message_html("Type a question first.", "error"), "", no_pages, *unchanged
                return
            yield answer_html("", writing=True), "", no_pages, *unchanged
            written, final, done = "", None, {}
            try:
                with client(key) as api:
                    for event, data in api.ask_stream(name, text, history=[(role, said) for role, said in turns]):
                        if event == "token":
                            written += data["text"]
                            yield answer_html(written, writing=True), gr.skip(), gr.skip(), *unchanged
                        elif event == "reset":
                            written = ""
                        elif event == "citations":
                            final = data
                        elif event == "done":
                            done = data
                    if final is None:
                        yield message_html("The answer stream ended early; please ask again.", "error"), "", no_pages, *unchanged
                        return
                    quotes = quotes_by_citation(final["answer"])
                    grown = [*turns, ["user", text.strip()], ["assistant", final["answer"]]][-MAX_CONVERSATION_TURNS:]
                    yield (
                        answer_html(final["answer"], meta=answer_meta_html(final, done)), sources_html(final["citations"], quotes),
                        gr.skip(), grown, thread_html([said for role, said in grown if role == "user"]),
                    )
                    pictures = _cited_pages(api, name, final["citations"], quotes)
                    yield gr.skip(), gr.skip(), gr.Gallery(value=pictures, visible=bool(pictures)), *unchanged
            except API_ERRORS as exc:
                yield message_html(_reason(exc), "error"), "", no_pages, *unchanged

        refresh_outputs = [header, key_panel, collection, documents, document]
        blocks.load(load, [visitor_key, collection], refresh_outputs)
        use_key.click(lambda typed: typed.strip(), [key_box], [visitor_key]).then(load, [visitor_key, collection], refresh_outputs)
        collection.input(show_documents, [visitor_key, collection], [documents, document, documents_notice])
        # Another collection, or the button: the next question starts a new conversation.
        for trigger in (collection.input, new_conversation.click):
            trigger(lambda: ([], ""), None, [conversation, thread])
        ingest.click(
            upload_and_follow, [visitor_key, collection, files], [progress, documents, document, collection, files],
            concurrency_limit=EVENT_CONCURRENCY,
        )
        delete.click(delete_document, [visitor_key, collection, document], [documents, document, documents_notice])
        for trigger in (ask.click, question.submit):
            # Gradio drops a click while the event is still running ("once"); the answer's event runs on
            # after its text is shown, drawing the cited pages, and a follow-up asked meanwhile was lost
            # without a word. "always_last" runs it as soon as the answer before it is done.
            trigger(
                ask_question, [visitor_key, collection, question, conversation], [answer, sources, pages, conversation, thread],
                concurrency_limit=EVENT_CONCURRENCY, trigger_mode="always_last",
            )
    return blocks


def _follow_jobs(make_client: Callable[[], RaglineClient], uploads: list[Upload]) -> Iterator[None]:
    """Follow every accepted upload's job at once (one event stream each); yield after each change."""
    changes: queue.Queue[tuple[Upload, dict | Exception | None]] = queue.Queue()

    def follow(upload: Upload) -> None:
        try:
            with make_client() as api:
                for job in api.follow(upload.job["job_id"]):
                    changes.put((upload, job))
        except API_ERRORS as exc:
            changes.put((upload, exc))
        finally:
            # Whatever happened, the loop below must learn that this job will send nothing more.
            changes.put((upload, None))

    following = [upload for upload in uploads if upload.job is not None and not upload.finished]
    for upload in following:
        threading.Thread(target=follow, args=(upload,), daemon=True, name=f"follow-{upload.filename}").start()
    remaining = len(following)
    while remaining:
        upload, change = changes.get()
        if change is None:
            remaining -= 1
            continue
        if isinstance(change, Exception):
            upload.refused = f"lost track of the job: {_reason(change)}"
        else:
            upload.job = change
        yield


def _documents_view(listed: list[dict]) -> tuple[str, gr.Dropdown]:
    choices = [(f"{d['filename']} ({d['document_id'][:12]})", d["document_id"]) for d in listed]
    return documents_html(listed), gr.Dropdown(choices=choices, value=None)


def _cited_pages(api: RaglineClient, collection: str, citations: list[dict], quotes: dict[int, list[str]]) -> list[tuple[Image.Image, str]]:
    """A picture of each cited PDF page, once however many sources it holds, with their passages
    highlighted and the answer's sentences from them; for the other formats (no page image), a card of
    the section's cited passages with those sentences highlighted."""
    pictures = []
    for numbers in numbers_by_page(citations):
        citation = citations[numbers[0] - 1]
        caption = page_caption(numbers, citation)
        passages = [citations[number - 1]["text"] for number in numbers]
        cited_quotes = [quote for number in numbers for quote in quotes.get(number, [])]
        png = None
        # A citation with a location comes from a format without page images: no file to fetch.
        if not citation.get("location"):
            document_id = citation["document_id"]
            original = _PDFS.get(document_id, lambda document_id=document_id: api.document_file(collection, document_id))
            if looks_like_pdf(original):
                png = render_cited_page(original, citation["page"], passages, cited_quotes)
        if png is None:
            png = render_passage(caption, "\n\n".join(passages), cited_quotes)
        pictures.append((Image.open(io.BytesIO(png)), caption))
    return pictures


class _PdfCache:
    """The last few cited PDFs, by document id.

    A document id is the SHA-256 of the file's bytes, so an entry never goes stale, and it is only
    looked up for a citation the API returned to that caller, who may therefore read that file.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._files: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, document_id: str, fetch: Callable[[], bytes]) -> bytes:
        with self._lock:
            if document_id in self._files:
                self._files.move_to_end(document_id)
                return self._files[document_id]
        data = fetch()
        with self._lock:
            self._files[document_id] = data
            while len(self._files) > self._size:
                self._files.popitem(last=False)
        return data


_PDFS = _PdfCache(PDF_CACHE_FILES)


def _key_login(expected: str) -> Callable[[str, str], bool]:
    def check(_username: str, password: str) -> bool:
        return hmac.compare_digest(password.encode(), expected.encode())

    return check


def _reason(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.detail} ({exc.code})"
    return f"cannot reach the API: {exc}"
