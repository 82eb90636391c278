"""Recognise a PDF by its bytes, without a PDF library (the API image has none)."""

PDF_MAGIC = b"%PDF-"
# The PDF specification lets a header follow up to 1 KiB of leading junk, and real files do this.
PDF_MAGIC_WINDOW = 1024


def looks_like_pdf(data: bytes) -> bool:
    """True when the bytes carry a PDF header, whatever the file is called.

    >>> looks_like_pdf(b"%PDF-1.7 ..."), looks_like_pdf(b"PK\\x03\\x04 a zip")
    (True, False)
    """
    return PDF_MAGIC in data[:PDF_MAGIC_WINDOW]
