import pytest

from ragline.api.uploads import clean_filename
from ragline.errors import ErrorCode, RaglineError
from ragline.pipeline.sniff import looks_like_pdf


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00name\x1b.pdf", "badname.pdf"),
    ],
)
def test_filenames_keep_only_their_last_component(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize("raw", ["", "..", "/", "x" * 300 + ".pdf"])
def test_unusable_filenames_are_refused(raw: str) -> None:
    with pytest.raises(RaglineError) as raised:
        clean_filename(raw)
    assert raised.value.code is ErrorCode.INVALID_FILENAME


def test_pdf_is_recognised_by_header_even_after_leading_junk() -> None:
    assert looks_like_pdf(b"\n\n%PDF-1.4 rest")
    assert not looks_like_pdf(b"<html>%PDF-</html>"[:4] + b"x" * 2000 + b"%PDF-")
