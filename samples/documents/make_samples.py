"""Write the non-PDF sample documents from the text of the public-domain sample PDFs (NOTICE.md says which
part of which), with the libraries ragline reads them with: python-docx, python-pptx, openpyxl; HTML
and Markdown as text. Deterministic: running it again gives the same text (Office files carry
timestamps, so their bytes differ).

    .venv/bin/python samples/documents/make_samples.py
"""

from __future__ import annotations

import re
from pathlib import Path

import docx
import openpyxl
import pdfplumber
import pptx
import pymupdf

HERE = Path(__file__).resolve().parent
PDFS = HERE.parent / "pdfs"
# The columns whose headers the PDF prints on one line; the others (pre-pawn, redemption, returned,
# rentals, private sale, return to seller: handgun/long gun/other each) span two header lines that
# no text extraction pairs with their cells reliably, so they stay out.
NICS_COLUMNS = ["State / Territory", "Permit", "Handgun", "Long Gun", "Other", "Multiple", "Admin", "Totals"]
FEDERAL_REGISTER_HEADINGS = ("SUMMARY:", "DATES:", "ADDRESSES:", "FOR FURTHER INFORMATION CONTACT:", "SUPPLEMENTARY INFORMATION:")


def pdf_pages(name: str, first: int, last: int) -> list[str]:
    with pymupdf.open(PDFS / name) as document:
        return [document[number - 1].get_text() for number in range(first, last + 1)]


def paragraphs(text: str) -> list[str]:
    """Lines joined into paragraphs: a line ending a sentence, followed by one that starts one, ends one."""
    result: list[str] = []
    current: list[str] = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for position, line in enumerate(lines):
        current.append(line)
        following = lines[position + 1] if position + 1 < len(lines) else ""
        if re.search(r"[.?!:\u201d\"]$", line) and (not following or following[0].isupper() or following[0] in "\u201c\"") and len(" ".join(current)) > 200:
            result.append(" ".join(current))
            current = []
    if current:
        result.append(" ".join(current))
    return result


def nics_rows() -> list[list[str]]:
    with pdfplumber.open(PDFS / "fbi_nics_checks_2015_11_table.pdf") as pdf:
        (table,) = pdf.pages[0].extract_tables({"vertical_strategy": "text", "horizontal_strategy": "text"})
    # A state's row: its name and (nearly) every count; pdfplumber leaves a blank where a cell is empty.
    return [row for row in table if row[0] and row[1].replace(",", "").isdigit() and sum(cell != "" for cell in row) >= 20]


def speaking_chapter(first: int, last: int, title: str) -> tuple[str, list[str], list[str]]:
    """Chapter text of The Art of Public Speaking: (title, body paragraphs, exercise paragraphs)."""
    text = "\n".join(pdf_pages("art_of_public_speaking_gutenberg.pdf", first, last))
    text = text.split(title.split(": ")[1].upper(), 1)[1]
    body, _, exercises = text.partition("QUESTIONS AND EXERCISES")
    return title, paragraphs(body), paragraphs(exercises)


def write_docx(rows: list[list[str]]) -> None:
    title, body, exercises = speaking_chapter(10, 15, "Chapter I: Acquiring Confidence Before an Audience")
    document = docx.Document()
    document.add_heading(title, level=1)
    for paragraph in body:
        document.add_paragraph(paragraph)
    document.add_heading("Questions and Exercises", level=2)
    for paragraph in exercises:
        document.add_paragraph(paragraph)
    document.add_heading("Appendix: Firearm Background Checks, November 2015", level=1)
    document.add_paragraph("NICS firearm checks by state, month of November 2015 (FBI), the first columns of the table.")
    table = document.add_table(rows=1, cols=5)
    for cell, name in zip(table.rows[0].cells, ["State", "Permit", "Handgun", "Long Gun", "Totals"]):
        cell.text = name
    for row in rows[:15]:
        for cell, value in zip(table.add_row().cells, [row[0], row[1], row[2], row[3], row[-1]]):
            cell.text = value
    document.save(HERE / "art_of_public_speaking_ch1.docx")


def write_pptx() -> None:
    presentation = pptx.Presentation()
    pages = pdf_pages("pride_and_prejudice.pdf", 1, 4)
    for number, chapter in ((1, pages[0] + pages[1]), (2, pages[2] + pages[3])):
        text = chapter.split(f"Chapter {number + 1}")[0].replace(f"Chapter {number}\n", "", 1)
        for part, block in enumerate(_slices(paragraphs(text), 900), start=1):
            slide = presentation.slides.add_slide(presentation.slide_layouts[1])
            slide.shapes.title.text = f"Chapter {number} ({part})"
            slide.placeholders[1].text = "\n".join(block)
    presentation.save(HERE / "pride_and_prejudice_ch1-2.pptx")


def _slices(items: list[str], size: int) -> list[list[str]]:
    slices: list[list[str]] = [[]]
    for item in items:
        if slices[-1] and sum(map(len, slices[-1])) + len(item) > size:
            slices.append([])
        slices[-1].append(item)
    return slices


def write_xlsx(rows: list[list[str]]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "November 2015"
    sheet.append(NICS_COLUMNS)
    for row in rows:
        sheet.append([row[0], *(_count(value) for value in row[1:7]), _count(row[-1])])
    workbook.save(HERE / "fbi_nics_checks_2015_11.xlsx")


def _count(cell: str) -> int | str | None:
    """A count as a number; a cell pdfplumber ran together with its neighbour ("102 1") stays as printed."""
    digits = cell.replace(",", "")
    return int(digits) if digits.isdigit() else (cell or None)


def write_html() -> None:
    text = " ".join(pdf_pages("federal_register_2020_17221_three_column.pdf", 1, 1)[0].split())
    pattern = "(" + "|".join(re.escape(heading) for heading in FEDERAL_REGISTER_HEADINGS) + ")"
    start = text.index("SUMMARY:")
    parts = re.split(pattern, text[start:])
    sections = "".join(f"<h2>{heading.rstrip(':').title()}</h2>\n<p>{body.strip()}</p>\n" for heading, body in zip(parts[1::2], parts[2::2]))
    html = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Airworthiness Directives; "
        "The Boeing Company Airplanes</title></head>\n<body>\n<h1>Airworthiness Directives; The Boeing Company Airplanes</h1>\n"
        "<p>Federal Register Vol. 85, No. 152, August 6, 2020, Proposed Rules, Docket No. FAA-2020-0697.</p>\n"
        f"{sections}</body></html>\n"
    )
    (HERE / "federal_register_2020_17221.html").write_text(html, encoding="utf-8")


def write_markdown() -> None:
    title, body, exercises = speaking_chapter(16, 18, "Chapter II: The Sin of Monotony")
    lines = [f"# {title}", "", *(line for paragraph in body for line in (paragraph, "")), "## Questions and Exercises", ""]
    lines += [line for paragraph in exercises for line in (paragraph, "")]
    (HERE / "art_of_public_speaking_ch2.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    nics = nics_rows()
    write_docx(nics)
    write_pptx()
    write_xlsx(nics)
    write_html()
    write_markdown()
