import pytest

from ragline.config import Settings
from ragline.domain import Passage
from ragline.pipeline.answer import extractive_answer
from ragline.providers.embeddings import create_embedder

pytestmark = pytest.mark.unit

STATES = "Tennessee 9,509 28,815 24,023 0 1,300 0 63,670 Texas 21,550 56,941 51,670 2,532 3,048 0 146,982 Utah 10,429 4,314 5,857 195 262 0 21,772"
# A table row run: no sentence ends, far longer than any sentence.
TABLE = " ".join(f"State{n} {n},101 {n},202 {n},303 0 0 {n},999" for n in range(60)) + " " + STATES


@pytest.fixture(scope="module")
def embedder():  # noqa: ANN201 - the configured embedder
    return create_embedder(Settings())


def test_long_table_text_answers_from_the_window_that_holds_the_asked_row(embedder) -> None:  # noqa: ANN001
    passages = [Passage("nics:1:0", "nics", "nics.pdf", 1, TABLE, 0.5)]
    question = "How many background checks were there in Texas?"
    answer = extractive_answer(embedder.embed_query(question), passages, embedder.embed_documents, 0.3, 1, question)
    assert len(TABLE) > 2000
    assert "Texas 21,550" in answer.answer and answer.answer.endswith("[1]")
    assert len(answer.answer) < 400



def test_rows_and_a_run_of_words_without_sentence_ends_compete_for_the_answer(embedder) -> None:  # noqa: ANN001
    """A PDF page's notes under a table, read without full stops, are windows; the table is Markdown
    (the reader drops the text layer's own reading of it): each answers the question it holds."""
    disclaimer = (
        "These statistics represent the number of firearm background checks initiated through the NICS "
        "They do not represent the number of firearms sold Based on varying state laws and purchase "
        "scenarios, a one-to-one correlation cannot be made between a firearm background check and a firearm sale"
    )
    markdown = (
        "| State | Permit | Handgun | Long Gun | Totals |\n| --- | --- | --- | --- | --- |\n"
        "| Tennessee | 9,509 | 28,815 | 24,023 | 63,670 |\n| Texas | 21,550 | 56,941 | 51,670 | 146,982 |\n"
        "| Utah | 10,429 | 4,314 | 5,857 | 21,772 |"
    )
    passages = [Passage("nics:1:0", "nics", "nics.pdf", 1, disclaimer, 0.5), Passage("nics:1:1", "nics", "nics.pdf", 1, markdown, 0.45)]

    def answer(question: str) -> str:
        return extractive_answer(embedder.embed_query(question), passages, embedder.embed_documents, 0.3, 1, question).answer

    assert answer("How many handgun checks were there in Texas?") == "Texas: Permit 21,550, Handgun 56,941, Long Gun 51,670, Totals 146,982 [2]"
    sold = answer("Do the background check statistics represent the number of firearms sold?")
    assert "do not represent the number of firearms sold" in sold.lower() and sold.endswith("[1]")
