"""Documents of every accepted format, built at test time with the libraries that read them (python-docx,
python-pptx, openpyxl, ebooklib), and hostile variants of them: zip bombs, entity expansion, truncated
and password-protected packages, a giant image. Nothing big is committed; everything here is made."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import docx
import openpyxl
import pptx
from ebooklib import epub
from msoffcrypto.format.ooxml import OOXMLFile
from pptx.util import Inches

NICS_ROWS = [
    ["State", "Permit", "Handgun", "Long Gun"],
    ["Alabama", "18,870", "23,022", "22,650"],
    ["Alaska", "209", "3,062", "3,209"],
    ["Arizona", "2,303", "12,382", "9,041"],
]


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Firearm checks", level=1)
    document.add_paragraph("The FBI counts background checks by state each month.")
    document.add_heading("November 2015", level=2)
    table = document.add_table(rows=len(NICS_ROWS), cols=len(NICS_ROWS[0]))
    for row, values in zip(table.rows, NICS_ROWS):
        for cell, value in zip(row.cells, values):
            cell.text = value
    document.add_heading("Method", level=1)
    document.add_paragraph("Checks are counted when a dealer calls the system.")
    return _saved(document)


def pptx_bytes() -> bytes:
    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Population"
    first.placeholders[1].text = "The world population passed eight billion in November 2022."
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "Checks by state"
    shape = second.shapes.add_table(len(NICS_ROWS), len(NICS_ROWS[0]), Inches(0.5), Inches(1.5), Inches(8), Inches(2))
    for r, values in enumerate(NICS_ROWS):
        for c, value in enumerate(values):
            shape.table.cell(r, c).text = value
    second.notes_slide.notes_text_frame.text = "Source: FBI NICS, November 2015."
    return _saved(presentation)


def xlsx_bytes(rows: list[list[object]] | None = None, sheet: str = "November 2015") -> bytes:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    for row in rows or NICS_ROWS:
        worksheet.append(row)
    return _saved(workbook)


def epub_bytes() -> bytes:
    book = epub.EpubBook()
    book.set_identifier("ragline-test")
    book.set_title("Pride and Prejudice")
    book.set_language("en")
    chapter = epub.EpubHtml(title="Chapter 1", file_name="chap_01.xhtml", lang="en")
    chapter.content = (
        "<html><body><h1>Chapter 1</h1><p>It is a truth universally acknowledged, that a single man in possession "
        "of a good fortune, must be in want of a wife.</p></body></html>"
    )
    book.add_item(chapter)
    book.toc = (chapter,)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def html_page(remote: str = "http://198.51.100.1") -> bytes:
    """A page with a script, a stylesheet, an image, a frame and an import, all on `remote`."""
    return f"""<!DOCTYPE html><html><head><title>t</title><script src="{remote}/a.js"></script>
<script>fetch('{remote}/x')</script><link rel="stylesheet" href="{remote}/s.css">
<style>@import url("{remote}/i.css");</style></head><body>
<h1>Checks</h1><p>Counts by <b>state</b>.</p><img src="{remote}/pixel.png"><iframe src="{remote}/frame"></iframe>
<h2>November</h2><table><tr><th>State</th><th>Permit</th></tr><tr><td>Alaska</td><td>209</td></tr></table>
<script>document.write('secret-script-text')</script><style>p {{ color: red }}</style></body></html>""".encode()


HTML = html_page()

MARKDOWN = b"""# Guide

Intro words.

## Install

Run the installer.

| option | meaning |
| --- | --- |
| --fast | skip checks |
"""


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _saved(document: object) -> bytes:
    out = io.BytesIO()
    document.save(out)  # type: ignore[attr-defined]
    return out.getvalue()


# ---- hostile ------------------------------------------------------------------------------


def zip_bomb(template: bytes, member: str, inflated_bytes: int) -> bytes:
    """`template` (a real package) with `member` replaced by `inflated_bytes` of zeros, deflated:
    a few hundred KB that would expand to gigabytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename == member:
                continue
            target.writestr(info, source.read(info.filename))
        bomb = zipfile.ZipInfo(member)
        bomb.compress_type = zipfile.ZIP_DEFLATED
        with target.open(bomb, "w", force_zip64=True) as stream:
            block = bytes(1024 * 1024)
            for _ in range(inflated_bytes // len(block)):
                stream.write(block)
    return out.getvalue()


def with_member(template: bytes, member: str, content: bytes) -> bytes:
    """`template` with one member's content replaced (an entity bomb in an XML part, for instance)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, content if info.filename == member else source.read(info.filename))
    return out.getvalue()


def billion_laughs(root: bytes) -> bytes:
    """An XML document whose entity `lol9` expands to 10^9 copies of "lol", used inside `root`."""
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * 10) for n in range(1, 10)
    )
    return b'<?xml version="1.0"?><!DOCTYPE root [' + entities + b"]>" + root.replace(b"LAUGHS", b"&lol9;")


def encrypted_office(document: bytes) -> bytes:
    """`document` (a DOCX, XLSX or PPTX) password-protected as Office does it (msoffcrypto-tool: an OLE2
    compound file holding the encrypted package)."""
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(document)).encrypt("secret-password", out)
    return out.getvalue()


def giant_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header for a width x height grey image, its pixel data a deflate stream of zeros: a
    few hundred KB that would decode to width * height bytes."""
    # A full flush resets the compressor, so identical input after it compresses to identical bytes:
    # one block of rows, compressed once, repeated, is a valid stream for all of them.
    # Raw deflate, wrapped by hand in zlib's header and Adler-32 trailer (RFC 1950).
    rows_per_block = 1000
    rows = bytes(width + 1) * rows_per_block
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(height // rows_per_block):
        checksum = zlib.adler32(rows, checksum)
    idat = b"\x78\xda" + block * (height // rows_per_block) + compressor.flush() + struct.pack(">I", checksum)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")

