"""The web UI in a real browser (Debian's chromium, driven by Playwright) against the real stack.

A person's journey: open the UI, give the API key, upload PDFs and watch them index, ask, read the
answer, its sources and the cited pages; then the same page on a phone-sized screen. Screenshots
land in test-artifacts/ui/ (the README's come from here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ragline.client import RaglineClient
from ragline.localstack import LocalStack
from tests.conftest import ARTIFACTS, REPO
from tests.ui.conftest import API_KEY

CHROMIUM = "/usr/bin/chromium"
# Never a downloaded browser: Debian's, without the background traffic it would start on its own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
SHOTS = ARTIFACTS / "ui"
WORLD = "world_population_wikipedia.pdf"
ENCRYPTED = "encrypted_password_openpassword.pdf"
SCANNED = "scanned_wikipedia_ocr_page_no_text.pdf"
QUESTION = "What is the median age of human beings?"
PHONE = {"width": 390, "height": 844}
# Ingest of the 24-page sample takes ~15 s alone; the budget covers a busy shared machine.
INGEST_TIMEOUT_MS = 240_000
ANSWER_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (Debian package chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def outside_requests() -> list[str]:
    return []


def open_ui(browser: Browser, stack: LocalStack, outside: list[str], viewport: dict | None = None) -> Page:
    """The UI in a fresh page, with the API key given as a person gives it."""
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    ui_host = urlsplit(stack.ui_url).netloc
    page.on("request", lambda request: outside.append(request.url) if urlsplit(request.url).netloc not in ("", ui_host) else None)
    page.goto(stack.ui_url)
    expect(page.locator("#header")).to_contain_text("This API needs a key", timeout=30_000)
    page.locator("#api-key input").fill(API_KEY)
    page.locator("#use-key").click()
    expect(page.locator("#header")).not_to_contain_text("needs a key", timeout=30_000)
    return page


def pick_collection(page: Page, name: str) -> None:
    field = page.locator("#collection input")
    field.fill(name)
    field.press("Enter")
    expect(field).to_have_value(name)


def test_upload_watch_ask_and_read_the_cited_page(browser: Browser, stack: LocalStack, samples: Path, outside_requests: list[str]) -> None:
    page = open_ui(browser, stack, outside_requests)
    pick_collection(page, "people")
    page.locator("#files input[type=file]").set_input_files([samples / WORLD, samples / ENCRYPTED])
    page.locator("#ingest").click()

    world = page.locator("#progress .rl-job", has_text=WORLD)
    pages_bar = world.get_by_role("progressbar", name="pages read")
    expect(pages_bar).not_to_have_attribute("aria-valuenow", "0", timeout=INGEST_TIMEOUT_MS)
    page.screenshot(path=SHOTS / "ui-progress.png", full_page=True)
    expect(world).to_have_attribute("data-state", "done", timeout=INGEST_TIMEOUT_MS)
    expect(pages_bar).to_have_attribute("aria-valuenow", "24")
    expect(pages_bar).to_have_attribute("aria-valuemax", "24")
    chunks_bar = world.get_by_role("progressbar", name="chunks indexed")
    assert chunks_bar.get_attribute("aria-valuenow") == chunks_bar.get_attribute("aria-valuemax") != "0"
    locked = page.locator("#progress .rl-job", has_text=ENCRYPTED)
    expect(locked).to_have_attribute("data-state", "failed", timeout=INGEST_TIMEOUT_MS)
    expect(locked).to_contain_text("password-protected")
    expect(page.locator("#documents tr", has_text=WORLD)).to_have_attribute("data-state", "done")

    page.locator("#question textarea").fill(QUESTION)
    page.locator("#ask").click()
    expect(page.locator("#answer")).to_contain_text("The median age of human beings as of 2020 is 31 years.", timeout=ANSWER_TIMEOUT_MS)
    first_source = page.locator("#sources .rl-source").first
    expect(first_source).to_have_attribute("data-file", WORLD)
    expect(first_source).to_have_attribute("data-page", "1")
    expect(first_source).to_contain_text("score")
    # One picture per cited page, however many of the sources it holds.
    cited = {(source.get_attribute("data-file"), source.get_attribute("data-page")) for source in page.locator("#sources .rl-source").all()}
    expect(page.locator("#cited-pages img")).to_have_count(len(cited), timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#cited-pages")).to_contain_text(f"[1] {WORLD}, page 1")
    page.screenshot(path=SHOTS / "ui-answer.png", full_page=True)
    assert outside_requests == [], "the UI must not call anything but itself"


def test_on_a_phone_the_main_controls_fit_and_work(browser: Browser, stack: LocalStack, client: RaglineClient, samples: Path, outside_requests: list[str]) -> None:
    upload = client.upload("phone", samples / WORLD)
    assert client.wait(upload["job_id"])["state"] == "done"
    page = open_ui(browser, stack, outside_requests, viewport=PHONE)
    pick_collection(page, "phone")
    for control in ("#collection", "#files", "#ingest", "#documents", "#question", "#ask"):
        box = page.locator(control).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], control
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.locator("#question textarea").fill(QUESTION)
    page.locator("#ask").click()
    expect(page.locator("#answer")).to_contain_text("31 years", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#sources .rl-source").first).to_have_attribute("data-page", "1")
    expect(page.locator("#cited-pages img").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=SHOTS / "ui-phone.png", full_page=True)
    assert outside_requests == []


def test_a_document_is_deleted_from_the_ui(browser: Browser, stack: LocalStack, client: RaglineClient, samples: Path, outside_requests: list[str]) -> None:
    upload = client.upload("to-delete", samples / "fbi_nics_checks_2015_11_table.pdf")
    assert client.wait(upload["job_id"])["state"] == "done"
    page = open_ui(browser, stack, outside_requests)
    pick_collection(page, "to-delete")
    expect(page.locator("#documents")).to_contain_text("fbi_nics_checks_2015_11_table.pdf")
    page.locator("#document input").click()
    page.get_by_role("option", name="fbi_nics_checks_2015_11_table.pdf", exact=False).click()
    page.locator("#delete").click()
    expect(page.locator("#documents-notice")).to_contain_text("Deleted.")
    expect(page.locator("#documents")).to_contain_text("No documents")
    assert client.documents("to-delete") == []


def test_a_question_without_documents_gets_a_clear_message(browser: Browser, stack: LocalStack, outside_requests: list[str]) -> None:
    page = open_ui(browser, stack, outside_requests)
    pick_collection(page, "nothing-here")
    page.locator("#question textarea").fill(QUESTION)
    page.locator("#ask").click()
    expect(page.locator("#answer .rl-error")).to_contain_text("no documents", timeout=ANSWER_TIMEOUT_MS)




def test_a_follow_up_is_understood_with_the_conversation(browser: Browser, stack: LocalStack, client: RaglineClient, samples: Path, outside_requests: list[str]) -> None:
    upload = client.upload("chat", samples / WORLD)
    assert client.wait(upload["job_id"])["state"] == "done"
    page = open_ui(browser, stack, outside_requests)
    pick_collection(page, "chat")
    page.locator("#question textarea").fill("In which year did the world population reach one billion?")
    page.locator("#ask").click()
    expect(page.locator("#answer")).to_contain_text("1804", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#thread li")).to_have_count(1)

    page.locator("#question textarea").fill("And two billion?")
    page.locator("#ask").click()
    expect(page.locator("#answer .rl-standalone")).to_have_text(
        "In which year did the world population reach two billion?", timeout=ANSWER_TIMEOUT_MS
    )
    expect(page.locator("#thread li")).to_have_text(["In which year did the world population reach one billion?", "And two billion?"])

    page.locator("#new-conversation").click()
    expect(page.locator("#thread li")).to_have_count(0)
    page.locator("#question textarea").fill("And two billion?")
    page.locator("#ask").click()
    expect(page.locator("#thread li")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#answer .rl-standalone")).to_have_count(0)
    assert outside_requests == []


def test_other_formats_upload_and_their_passages_are_shown(browser: Browser, stack: LocalStack, samples: Path, outside_requests: list[str]) -> None:
    """A DOCX with a table, an HTML page and a scanned PDF through the file picker; the answer's source names
    the DOCX table's heading path and shows the passage as a card (a DOCX has no page to picture)."""
    documents = REPO / "samples" / "documents"
    docx, html, scan = documents / "art_of_public_speaking_ch1.docx", documents / "federal_register_2020_17221.html", samples / SCANNED
    page = open_ui(browser, stack, outside_requests)
    pick_collection(page, "formats")
    page.locator("#files input[type=file]").set_input_files([docx, html, scan])
    page.locator("#ingest").click()
    for path in (docx, html, scan):
        expect(page.locator("#progress .rl-job", has_text=path.name)).to_have_attribute("data-state", "done", timeout=INGEST_TIMEOUT_MS)

    page.locator("#question textarea").fill("How many handgun checks were there in Georgia?")
    page.locator("#ask").click()
    source = page.locator("#sources .rl-source", has_text=docx.name).first
    expect(source).to_have_attribute("data-location", "Appendix: Firearm Background Checks, November 2015", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#cited-pages")).to_contain_text(f"{docx.name}, Appendix: Firearm Background Checks, November 2015")
    expect(page.locator("#cited-pages img").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    page.screenshot(path=SHOTS / "ui-formats.png", full_page=True)

    page.locator("#question textarea").fill("What is optical character recognition?")
    page.locator("#ask").click()
    expect(page.locator("#sources .rl-source", has_text=SCANNED).first).to_have_attribute("data-page", "1", timeout=ANSWER_TIMEOUT_MS)
    assert outside_requests == []
