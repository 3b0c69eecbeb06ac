"""The shared 'holds' rule, against hand-computed means and standard errors."""

import math

import numpy as np
import pytest

from paperzoo.core.verdict import (NO, NOT_MEASURED, NOT_SIGNIFICANT, YES, Verdict, better, deterministic, equivalent,
                                   mean_and_se, spread, unmeasured, weakest)


def test_mean_and_se_is_the_sample_formula():
    d = [0.1, 0.3, 0.2, 0.6]
    mean, se = mean_and_se(d)
    m = sum(d) / 4
    s = math.sqrt(sum((x - m) ** 2 for x in d) / 3)
    assert mean == pytest.approx(m) and se == pytest.approx(s / 2)
    assert math.isnan(mean_and_se([0.5])[1])


def test_better_holds_only_beyond_two_standard_errors():
    # paired differences 0.10, 0.12, 0.11: mean 0.11, SE 0.00577 -> far beyond 2 SE
    v = better([0.5, 0.62, 0.61], [0.4, 0.5, 0.5])
    assert v.holds == YES and v.n == 3 and v.diff == pytest.approx(0.11) and v.se == pytest.approx(0.01 / math.sqrt(3))
    # differences 0.3, -0.1, 0.1: mean 0.1, SE 0.115 -> right direction, not significant
    v = better([0.7, 0.3, 0.5], [0.4, 0.4, 0.4])
    assert v.holds == NOT_SIGNIFICANT and "within 2 SE" in v.reason
    # the mean points the other way
    assert better([0.3, 0.35, 0.32], [0.4, 0.4, 0.4]).holds == NO


def test_two_seeds_are_never_enough_to_hold():
    v = better([0.9, 0.91], [0.1, 0.1])
    assert v.holds == NOT_SIGNIFICANT and "fewer than 3 seeds" in v.reason


def test_lower_is_better_flips_the_sign():
    v = better([1.0, 1.1, 1.05], [2.0, 2.1, 2.0], higher_is_better=False)
    assert v.holds == YES and v.diff > 0
    assert better([1.0, 1.1, 1.05], [2.0, 2.1, 2.0]).holds == NO


def test_a_winner_below_the_measured_baseline_does_not_hold():
    """SPARC vs CLIP: both below what an untrained model gets -> no, whatever the difference."""
    v = better([0.30, 0.31, 0.32], [0.20, 0.21, 0.22], baseline=[0.40, 0.42, 0.44])
    assert v.holds == NO and "baseline" in v.reason
    assert better([0.30, 0.31, 0.32], [0.20, 0.21, 0.22], baseline=0.1).holds == YES


def test_scalar_control_is_a_fixed_reference():
    assert better([0.8, 0.82, 0.81], 0.5).holds == YES


def test_equivalence_needs_the_whole_interval_inside_the_tolerance():
    assert equivalent([1.0, 1.01, 0.99], [1.0, 1.0, 1.0], tolerance=0.05).holds == YES
    assert equivalent([1.2, 1.21, 1.19], [1.0, 1.0, 1.0], tolerance=0.05).holds == NO
    # the mean inside, the interval not: not significant
    assert equivalent([1.0, 1.1, 0.92], [1.0, 1.0, 1.0], tolerance=0.08).holds == NOT_SIGNIFICANT
    # one-sided, relative: a is at most 10 % worse (lower is better)
    assert equivalent([3.0, 3.1, 3.05], [3.2, 3.3, 3.25], tolerance=0.1, relative=True, one_sided=True).holds == YES
    assert equivalent([4.2, 4.3, 4.25], [3.2, 3.3, 3.25], tolerance=0.1, relative=True, one_sided=True).holds == NO


def test_deterministic_and_unmeasured():
    assert deterministic(True).holds == YES and deterministic(False, "x1.2").text() == "no (deterministic; x1.2)"
    assert unmeasured("skipped").holds == "not measured"


def test_bad_numbers_are_one_clear_error():
    with pytest.raises(ValueError, match="treatment"):
        better([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        better([1.0, float("nan"), 2.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="2 numbers for 3 seeds"):
        better([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="verdict"):
        Verdict("maybe", "better")


def test_verdict_round_trips_and_renders_its_numbers():
    v = better([0.5, 0.62, 0.61], [0.4, 0.5, 0.5])
    assert Verdict.from_dict(v.to_dict()) == v
    assert v.text().startswith("yes (diff +0.11 ± 0.00577 SE, 3 seeds")


def test_spread_quotes_mean_se_and_seeds():
    assert spread([0.5, 0.6, 0.55]) == f"0.550 ± {np.std([0.5, 0.6, 0.55], ddof=1) / math.sqrt(3):.3f} (0.500, 0.600, 0.550)"
    assert spread([0.5]) == "0.500 (one seed)"


def test_weakest_is_decided_by_the_weakest_comparison():
    strong, weak, wrong = better([3, 4, 5], [0, 0, 0]), better([1.0, 1.2, 0.8], [0.9, 0.8, 1.0]), better([0, 0, 0], [1, 1, 1])
    assert (strong.holds, weak.holds, wrong.holds) == (YES, NOT_SIGNIFICANT, NO)
    assert weakest({"a": strong, "b": strong}).holds == YES
    both = weakest({"a": strong, "b": weak})
    assert both.holds == NOT_SIGNIFICANT and both.reason.startswith("weakest: b") and both.diff == weak.diff
    assert weakest({"a": strong, "b": weak, "c": wrong}).reason.startswith("weakest: c")
    assert weakest({"a": strong, "m": unmeasured("not run")}).holds == NOT_MEASURED
    with pytest.raises(ValueError, match="no verdicts"):
        weakest({})
