"""PDFs written out byte by byte, for tests that need a shape no sample has (PyMuPDF would take a
minute to build 30,000 pages, and refuses to write some hostile structures at all)."""

from __future__ import annotations


def pdf_of(objects: list[bytes]) -> bytes:
    """A PDF of these numbered objects (object 1 is the catalog), with a correct cross-reference table."""
    pdf, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


def blank_pages_pdf(count: int) -> bytes:
    """A valid PDF of `count` blank pages."""
    kids = b" ".join(b"%d 0 R" % number for number in range(3, count + 3))
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/MediaBox[0 0 612 792]/Count %d/Kids[%s]>>" % (count, kids)]
    return pdf_of(objects + [b"<</Type/Page/Parent 2 0 R>>"] * count)
