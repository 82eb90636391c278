"""The extractive answer's pure steps: which pieces of a passage can answer, which of them an answer
takes (a floor relative to the best, no repeats), and one source per stretch of text."""

import numpy as np
import pytest

from ragline.domain import Passage
from ragline.pipeline.answer import Piece, answer_pieces, choose_sentences, is_sentence, merge_overlapping, select_evidence

pytestmark = pytest.mark.unit

# The demo article's page 13 as blocks: a sentence the layout cuts short, then three headings.
PAGE_13 = (
    "Haub (1995) estimates that around 40% of those who have ever lived did not survive beyond their first birthday.\n"
    'Haub also stated that "life expectancy at birth probably averaged only about ten years for most of human\n'
    'history",[144] which is not to be\n\n'
    "Mathematical approximations\n\nYears for world population to double\n\nNumber of humans who have ever lived"
)


def _texts(text: str) -> list[str]:
    return [piece.text for piece in answer_pieces(text)]


def _passage(chunk_id: str, text: str, score: float, page: int = 1, document_id: str = "d") -> Passage:
    return Passage(chunk_id=chunk_id, document_id=document_id, filename="a.pdf", page=page, text=text, score=score)


@pytest.mark.parametrize(
    "text",
    [
        "Mathematical approximations",
        "Years for world population to double",
        "Historic chart showing the periods of time the world population has taken to double, from 1700 to 2000",
        "of 1315–1317 and the end of the Black Death in 1350, when it was nearly 370,000,000.",
        "NOTES: SEE THE TABLE BELOW FOR ALL STATES.",
        "It grew.",
    ],
)
def test_headings_captions_and_cut_sentences_are_not_sentences(text: str) -> None:
    assert not is_sentence(text)


@pytest.mark.parametrize(
    "text",
    [
        "The median age of human beings as of 2020 is 31 years.",
        '"Life expectancy at birth probably averaged only about ten years," he said.',
        "2020 was the year the median age reached 31 years?",
    ],
)
def test_whole_sentences_are_sentences(text: str) -> None:
    assert is_sentence(text)


def test_a_sentence_never_runs_into_the_headings_after_it() -> None:
    pieces = _texts(PAGE_13)
    assert pieces == ["Haub (1995) estimates that around 40% of those who have ever lived did not survive beyond their first birthday."]


def test_markdown_table_rows_are_quoted_as_rows_after_their_columns_names() -> None:
    table = "NICS checks, November 2015\n\n| State | Handgun | Long gun |\n|---|---:|---:|\n| Texas | 56,941 | 51,670 |\n| Utah | 4,314 |  |"
    assert answer_pieces(table) == [
        Piece("Texas: Handgun 56,941, Long gun 51,670", "row"),
        Piece("Utah: Handgun 4,314", "row"),
    ]


def test_a_row_under_a_header_that_names_few_columns_or_none_stays_a_row() -> None:
    read_from_layout = "|  |  |  | Pre-Paw | n |\n| --- | --- | --- | --- | --- |\n| Texas | 21,550 | 56,941 | 0 | 0 |"
    assert answer_pieces(read_from_layout) == [Piece("| Texas | 21,550 | 56,941 | 0 | 0 |", "row")]
    # The chunk begins inside a table whose header the chunk before it holds.
    assert answer_pieces("| Texas | 21,550 | 0 |\n| Utah | 10,429 | 1 |") == [Piece("| Texas | 21,550 | 0 |", "row"), Piece("| Utah | 10,429 | 1 |", "row")]


def test_text_too_long_for_a_sentence_competes_as_windows() -> None:
    run = " ".join(f"State{n} {n},101 {n},202" for n in range(100))
    windows = _texts(run)
    assert {piece.kind for piece in answer_pieces(run)} == {"window"}
    assert len(windows) > 1 and all(len(window.split()) <= 40 for window in windows)
    assert "State99 99,101 99,202" in windows[-1]


def test_sentences_below_the_floor_are_left_out() -> None:
    vectors = np.eye(4)
    assert choose_sentences([0.80, 0.75, 0.50, 0.45], vectors, limit=3, floor=0.85) == [0, 1]
    assert choose_sentences([0.80, 0.75, 0.50, 0.45], vectors, limit=3, floor=0.5) == [0, 1, 2]


def test_a_sentence_that_repeats_a_chosen_one_gives_way() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # The second candidate says what the first does: the third, less relevant but new, comes next.
    assert choose_sentences([0.80, 0.79, 0.72], vectors, limit=2, floor=0.85, penalty=0.3) == [0, 2]
    assert choose_sentences([0.80, 0.79, 0.72], vectors, limit=2, floor=0.85, penalty=0.0) == [0, 1]


def test_the_best_sentence_is_always_chosen_and_the_limit_holds() -> None:
    assert choose_sentences([0.2], np.eye(1), limit=3) == [0]
    assert choose_sentences([0.9, 0.9, 0.9, 0.9], np.eye(4), limit=2) == [0, 1]
    assert choose_sentences([], np.zeros((0, 4)), limit=3) == []


def test_neighbouring_chunks_of_a_page_merge_into_one_source() -> None:
    first = _passage("d:1:0", "The world has eight billion people. The median age of human beings is 31 years.", 0.62)
    second = _passage("d:1:1", "The median age of human beings is 31 years. Births are 140 million a year.", 0.64)
    other_page = _passage("d:3:0", "The median age of the world's population is 31 years.", 0.58, page=3)
    merged = merge_overlapping([first, other_page, second])
    assert [(p.chunk_id, p.score) for p in merged] == [("d:1:0", 0.64), ("d:3:0", 0.58)]
    assert merged[0].text == (
        "The world has eight billion people. The median age of human beings is 31 years. Births are 140 million a year."
    )


def test_a_later_chunk_that_ends_where_the_first_begins_merges_in_page_order() -> None:
    later = _passage("d:1:1", "The median age of human beings is 31 years. Births are 140 million a year.", 0.7)
    earlier = _passage("d:1:0", "The world has eight billion people. The median age of human beings is 31 years.", 0.6)
    assert merge_overlapping([later, earlier])[0].text.startswith("The world has eight billion people.")


def test_the_same_text_in_two_documents_is_one_source() -> None:
    text = "The median age of human beings as of 2020 is 31 years."
    merged = merge_overlapping([_passage("a:1:0", text, 0.6, document_id="a"), _passage("b:1:0", text, 0.6, document_id="b")])
    assert [p.document_id for p in merged] == ["a"]


def test_chunks_of_different_pages_that_only_share_a_phrase_stay_apart() -> None:
    phrase = "the world population is the total number of humans"
    passages = [_passage("d:1:0", f"In demographics, {phrase}.", 0.6), _passage("d:2:0", f"{phrase} alive today.", 0.5, page=2)]
    assert merge_overlapping(passages) == passages


def test_evidence_is_thresholded_then_merged() -> None:
    first = _passage("d:1:0", "The world has eight billion people. The median age of human beings is 31 years.", 0.62)
    second = _passage("d:1:1", "The median age of human beings is 31 years. Births are 140 million a year.", 0.64)
    weak = _passage("d:9:0", "Pride and Prejudice is a novel.", 0.1, page=9)
    assert [p.chunk_id for p in select_evidence([first, weak, second], threshold=0.4)] == ["d:1:0"]


def test_a_block_that_continues_a_sentence_joins_it() -> None:
    # PyMuPDF starts a new block after the superscript reference mark, in the middle of the sentence.
    text = "China's population rose from approximately 430 million in 1850 to 580 million in 1953,[51]\n\nand now stands at over 1.3 billion."
    assert _texts(text) == ["China's population rose from approximately 430 million in 1850 to 580 million in 1953, and now stands at over 1.3 billion."]


def test_titles_and_initials_do_not_end_a_sentence() -> None:
    text = "Though Lydia's short letter to Mrs. Forster was brief, Colonel F. read it twice. The U.S. Army left in May."
    assert _texts(text) == ["Though Lydia's short letter to Mrs. Forster was brief, Colonel F. read it twice.", "The U.S. Army left in May."]
