import pytest

from ragline.config import Settings
from ragline.domain import Passage
from ragline.pipeline.answer import NOT_FOUND_ANSWER, extractive_answer, split_sentences
from ragline.providers.embeddings import LocalMiniLM


@pytest.fixture(scope="module")
def embedder() -> LocalMiniLM:
    return LocalMiniLM(Settings().embedding_model_name)


def _passage(n: int, text: str, score: float) -> Passage:
    return Passage(chunk_id=f"doc:{n}:0", document_id="doc", filename="f.pdf", page=n, text=text, score=score)


def test_sentences_split_on_terminal_punctuation_and_drop_reference_marks() -> None:
    text = 'It grew to 2100.[8] The median age is 31 years.[9] "Quoted."  Next\nline'
    assert split_sentences(text) == ["It grew to 2100.", "The median age is 31 years.", '"Quoted."', "Next line"]


def test_abbreviations_and_decimals_do_not_split() -> None:
    assert split_sentences("The rate was 1.1 per cent in 2020. It fell.") == ["The rate was 1.1 per cent in 2020.", "It fell."]


def test_answer_takes_the_relevant_sentences_with_their_citation_number(embedder: LocalMiniLM) -> None:
    # Best first, as a retriever returns them: citations keep this order.
    passages = [
        _passage(7, "The Amazon is the largest rainforest on Earth. It spans nine countries in South America.", 0.60),
        _passage(3, "Paris is the capital of France and its largest city. It hosts the Louvre museum.", 0.55),
    ]
    question = "Which countries does the Amazon rainforest span?"
    answer = extractive_answer(embedder.embed_query(question), passages, embedder.embed_documents, threshold=0.3, max_sentences=2)
    assert answer.grounded
    assert [citation.page for citation in answer.citations] == [7, 3]
    assert "It spans nine countries in South America. [1]" in answer.answer
    assert "Paris" not in answer.answer and "Louvre" not in answer.answer


def test_nothing_above_the_threshold_is_not_found(embedder: LocalMiniLM) -> None:
    passages = [_passage(1, "Bread needs flour, water, salt and yeast, kneaded and baked.", 0.12)]
    answer = extractive_answer(embedder.embed_query("Who won the 1998 World Cup?"), passages, embedder.embed_documents, threshold=0.3)
    assert answer == type(answer)(answer=NOT_FOUND_ANSWER, grounded=False, citations=[])


def test_passage_without_prose_sentences_answers_with_its_rows(embedder: LocalMiniLM) -> None:
    passages = [_passage(2, "Table 4\nAlabama 12,000\nAlaska 3,100", 0.5)]
    answer = extractive_answer(embedder.embed_query("Alaska checks"), passages, embedder.embed_documents, threshold=0.3)
    assert answer.answer.startswith("Alaska 3,100 [1]")
    assert "Table 4 Alabama" not in answer.answer
