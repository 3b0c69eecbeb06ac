"""AIFT pair construction (§2.4): best vs worst of the N candidates, ties dropped."""

import pytest

from paperzoo.core.errors import InputError
from paperzoo.self_rewarding.pairs import best_and_worst, preference_pairs


def test_best_and_worst_with_ties_and_unscored_candidates():
    assert best_and_worst([3.0, 4.67, 1.33, 4.0]) == (1, 2)
    assert best_and_worst([2.0, 2.0, 2.0, 2.0]) is None  # max = min: dropped
    assert best_and_worst([None, 3.0, None, None]) is None  # one scored candidate: no pair
    assert best_and_worst([None, 3.0, None, 1.0]) == (1, 3)  # unscored ones take no part
    assert best_and_worst([5.0, 1.0, 5.0, 1.0], "first") == (0, 1)
    picks = {best_and_worst([5.0, 1.0, 5.0, 1.0], "random", __import__("numpy").random.default_rng(s)) for s in range(40)}
    assert picks == {(0, 1), (0, 3), (2, 1), (2, 3)}
    with pytest.raises(ValueError, match="tie_break"):
        best_and_worst([1.0, 2.0], "last")


def test_preference_pairs_skip_tied_prompts_and_refuse_empty_candidates():
    pairs = preference_pairs(["p1", "p2"], [["a", "b", "c"], ["x", "y"]], [[1.0, 5.0, 3.0], [2.0, 2.0]])
    assert len(pairs) == 1
    assert (pairs[0].prompt, pairs[0].chosen, pairs[0].rejected) == ("p1", "b", "a")
    assert (pairs[0].chosen_score, pairs[0].rejected_score) == (5.0, 1.0)
    with pytest.raises(InputError, match="prompt 1 .*empty candidate set"):
        preference_pairs(["p1", "p2"], [["a", "b"], []], [[1.0, 2.0], []])
    with pytest.raises(InputError, match="2 prompts, 1 candidate lists"):
        preference_pairs(["p1", "p2"], [["a"]], [[1.0]])
