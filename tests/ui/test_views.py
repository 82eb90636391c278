"""The UI's HTML fragments: progress per file, failures with their reason, answers and sources."""

from __future__ import annotations

import re

import pytest

from ragline.ui.views import (
    Upload,
    answer_html,
    answer_meta_html,
    documents_html,
    page_caption,
    quotes_by_citation,
    snippet_of,
    sources_html,
    thread_html,
    uploads_html,
)

pytestmark = pytest.mark.unit


def _job(state: str, pages: tuple[int, int], chunks: tuple[int, int], **extra: object) -> dict:
    progress = {"pages_done": pages[0], "pages_total": pages[1], "chunks_done": chunks[0], "chunks_total": chunks[1]}
    return {"state": state, "stage": extra.pop("stage", "index"), "progress": progress, "timings": {"total": 12.34}, **extra}


def _bars(html: str) -> list[tuple[str, str, str]]:
    return re.findall(r'aria-label="([^"]+)" aria-valuemin="0" aria-valuemax="(\d+)" aria-valuenow="(\d+)"', html)


def test_a_running_job_shows_pages_and_chunks_as_two_bars() -> None:
    html = uploads_html([Upload("report.pdf", job=_job("running", (24, 24), (40, 129)))])
    assert _bars(html) == [("pages read", "24", "24"), ("chunks indexed", "129", "40")]
    assert 'data-state="running"' in html and "width:31%" in html and "index" in html


def test_a_failed_job_says_why_and_a_refused_upload_says_what_the_api_said() -> None:
    failed = Upload("locked.pdf", job=_job("failed", (0, 0), (0, 0), error="the PDF is password-protected", error_code="encrypted_pdf"))
    refused = Upload("notes.txt", refused="the file does not start with a PDF header (%PDF-) (not_a_pdf)")
    html = uploads_html([failed, refused])
    assert html.count('data-state="failed"') == 2
    assert "the PDF is password-protected (encrypted_pdf)" in html and "not_a_pdf" in html
    assert failed.finished and refused.finished and not Upload("x.pdf", job=_job("queued", (0, 0), (0, 0))).finished


def test_done_says_how_long_it_took_or_that_the_file_was_already_there() -> None:
    done = _job("done", (1, 1), (7, 7))
    assert "done in 12.3 s" in uploads_html([Upload("a.pdf", job=done)])
    assert "already indexed" in uploads_html([Upload("a.pdf", job=done, duplicate=True)])


def test_text_from_files_and_users_is_escaped() -> None:
    hostile = '<img src=x onerror="alert(1)">.pdf'
    assert "<img" not in uploads_html([Upload(hostile, refused="<b>no</b>")])
    assert "<img" not in documents_html([{"filename": hostile, "pages": 1, "chunks": 1, "state": "done"}])
    citation = {"filename": hostile, "page": 2, "score": 0.5, "text": "<script>x</script>"}
    assert "<script>" not in sources_html([citation], {}) and "<img" not in sources_html([citation], {})
    assert "<script>" not in answer_html("<script>alert(1)</script> [1]")


def test_an_answer_marks_its_citations_and_shows_the_trace_id_when_there_is_one() -> None:
    html = answer_html("Age is 31. [1]", writing=True)
    assert '<sup class="rl-ref">[1]</sup>' in html and 'data-writing="true"' in html
    answer = {"answer": "Age is 31. [1]", "grounded": True}
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in answer_meta_html(answer, {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "cached": True})
    assert "trace id" not in answer_meta_html(answer, {"trace_id": None, "timings": {"total": 0.5}})
    assert "do not hold the answer" in answer_meta_html({"grounded": False}, {})


def test_sources_show_file_page_score_and_the_part_the_answer_took() -> None:
    passage = "Background. " + "filler words here " * 60 + "The median age is 31 years.[9]"
    citation = {"filename": "world.pdf", "page": 1, "score": 0.6099, "text": passage}
    html = sources_html([citation], {1: ["The median age is 31 years."]})
    assert 'data-file="world.pdf" data-page="1"' in html and "page 1 · score 0.61" in html
    assert "The median age is 31 years." in html and "Background." not in html
    assert snippet_of(passage, []).startswith("Background.")


def test_quotes_are_grouped_by_the_citations_that_follow_them() -> None:
    answer = "Age is 31 years. [1] It will rise to 37.9 by 2050. [3] Both hold. [1][2]"
    assert quotes_by_citation(answer) == {
        1: ["Age is 31 years.", "Both hold."],
        2: ["Both hold."],
        3: ["It will rise to 37.9 by 2050."],
    }
    assert quotes_by_citation("Not found in the documents.") == {}


def test_a_rewritten_follow_up_and_the_conversation_are_shown_escaped() -> None:
    answer = {"grounded": True, "standalone_question": "What about <b>2050</b>?"}
    assert '<q class="rl-standalone">What about &lt;b&gt;2050&lt;/b&gt;?</q>' in answer_meta_html(answer, {})
    assert "rl-standalone" not in answer_meta_html({"grounded": True, "standalone_question": None}, {})
    assert thread_html([]) == ""
    assert thread_html(["First?", "And <i>then</i>?"]).count("<li>") == 2
    assert "And &lt;i&gt;then&lt;/i&gt;?" in thread_html(["First?", "And <i>then</i>?"])


def test_sources_and_captions_name_the_location_of_formats_without_pages() -> None:
    citation = {"filename": "deck.pptx", "page": 3, "score": 0.5, "text": "Slide text.", "location": "slide 3: Results"}
    html = sources_html([citation], {})
    assert 'data-location="slide 3: Results"' in html and "slide 3: Results · score 0.50" in html
    assert page_caption([2, 4], citation) == "[2][4] deck.pptx, slide 3: Results"
    assert page_caption([1], {"filename": "a.pdf", "page": 4, "location": ""}) == "[1] a.pdf, page 4"
