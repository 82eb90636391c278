import pytest

from ragline.pipeline.fusion import reciprocal_rank_fusion

pytestmark = pytest.mark.unit


def test_items_ranked_well_by_both_lists_come_first() -> None:
    vector = ["a", "b", "c", "d"]
    lexical = ["d", "c", "x"]
    assert reciprocal_rank_fusion([vector, lexical], k=60) == ["d", "c", "a", "b", "x"]


def test_single_ranking_is_kept_and_ties_favour_the_first_list() -> None:
    assert reciprocal_rank_fusion([["a", "b", "c"]]) == ["a", "b", "c"]
    assert reciprocal_rank_fusion([["a"], ["b"]]) == ["a", "b"]
    assert reciprocal_rank_fusion([[], []]) == []


def test_k_sets_how_much_agreement_outweighs_a_single_top_rank() -> None:
    rankings = [["a", "y", "x"], ["b", "z", "x"]]
    assert reciprocal_rank_fusion(rankings, k=60)[0] == "x"
    assert reciprocal_rank_fusion(rankings, k=1)[0] == "a"
