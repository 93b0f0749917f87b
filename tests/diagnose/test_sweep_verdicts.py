"""Sweep-level verdicts on cases with a known answer: synthetic populations whose trends are
set by construction, and the calibration of the permutation trend test."""

import numpy as np
import pytest

from mesascope.diagnose.sweep_verdicts import (
    SweepThresholds,
    approximate_alignment,
    kendall_tau,
    suboptimality_alignment,
    trend_test,
)
from mesascope.testing import binomial_interval

CAPACITY = np.repeat([8.0, 16.0, 32.0, 64.0], 6)


def test_kendall_tau_matches_hand_computed_values():
    assert kendall_tau(np.arange(5), np.arange(5) ** 2) == pytest.approx(1.0)
    assert kendall_tau(np.arange(5), -np.arange(5)) == pytest.approx(-1.0)
    # 4 concordant pairs, 0 discordant, 2 pairs tied in y: tau_b = 4 / sqrt(6 * 4)
    assert kendall_tau(np.array([1, 2, 3, 4]), np.array([1, 1, 2, 2])) == pytest.approx(4 / np.sqrt(24))
    assert np.isnan(kendall_tau(np.arange(4), np.ones(4)))


def test_trend_test_finds_a_clear_trend_in_the_right_direction():
    rng = np.random.default_rng(0)
    y = -0.01 * CAPACITY + rng.normal(0, 0.05, CAPACITY.size)
    trend = trend_test(CAPACITY, y, permutations=999)
    assert trend.tau < -0.5
    assert trend.p_decreasing < 0.01 and trend.p_increasing > 0.9


def test_trend_test_is_calibrated_under_the_null():
    """Independent data: the one-sided p-value falls below 0.05 in about 5% of datasets."""
    rng = np.random.default_rng(1)
    rejections = sum(trend_test(CAPACITY[:12], rng.normal(size=12), permutations=199, seed=i).p_decreasing < 0.05 for i in range(300))
    low, high = binomial_interval(300, 0.05, 0.999)
    assert low <= rejections <= high, rejections


def _gap(means, noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    return np.repeat(means, 6) + rng.normal(0, noise, 24)


def test_approximate_alignment_holds_when_the_gap_shrinks_steadily_while_aimed():
    verdict = approximate_alignment(CAPACITY, _gap([0.5, 0.3, 0.15, 0.05]), np.ones(24, bool))
    assert verdict.holds, verdict.reason
    assert verdict.evidence["tau"] < 0 and verdict.evidence["p"] < 0.05
    assert [row["agents"] for row in verdict.evidence["gap"]] == [6, 6, 6, 6]
    assert verdict.evidence["thresholds"]["min_gap"] == SweepThresholds().min_gap


@pytest.mark.parametrize(
    "gap_means, aimed, words",
    [
        ([0.5, 0.3, 0.15, 0.05], np.repeat([True, True, True, False], 6), "aimed at the intended objective at 64"),
        ([0.05, 0.15, 0.3, 0.5], np.ones(24, bool), "does not fall"),
        ([0.5, 0.1, 0.35, 0.05], np.ones(24, bool), "rises by"),
        ([0.01, 0.01, 0.0, 0.0], np.ones(24, bool), "nothing to shrink"),
    ],
)
def test_approximate_alignment_fails_for_the_stated_reason(gap_means, aimed, words):
    verdict = approximate_alignment(CAPACITY, _gap(gap_means, noise=0.005), aimed)
    assert not verdict.holds
    assert words in verdict.reason


def test_suboptimality_alignment_holds_when_aligned_behaviour_turns_to_the_proxy():
    aligned = np.repeat([True, True, False, False], 6)
    verdict = suboptimality_alignment(CAPACITY, aligned, ~aligned)
    assert verdict.holds, verdict.reason
    assert verdict.evidence["aligned_share"][0]["mean"] == 1.0
    assert verdict.evidence["proxy_share"][-1]["mean"] == 1.0
    assert f"τ = {verdict.evidence['tau']:.2f}, one-sided p = {verdict.evidence['p']:.4f}" in verdict.reason  # a verdict that holds shows its test


def test_suboptimality_alignment_rejects_the_reverse_and_the_flat_cases():
    aligned = np.repeat([False, False, True, True], 6)
    reverse = suboptimality_alignment(CAPACITY, aligned, ~aligned)
    assert not reverse.holds and "does not rise" in reverse.reason
    flat = suboptimality_alignment(CAPACITY, np.zeros(24, bool), np.ones(24, bool))
    assert not flat.holds and "look aligned" in flat.reason


def test_bad_input_is_rejected_with_the_reason():
    with pytest.raises(ValueError, match="at least two distinct dial values"):
        approximate_alignment(np.ones(4), np.zeros(4), np.ones(4, bool))
    with pytest.raises(ValueError, match="share one 1-D shape"):
        suboptimality_alignment(np.arange(4.0), np.ones(3, bool), np.ones(4, bool))
    with pytest.raises(ValueError, match="alpha must be in"):
        SweepThresholds(alpha=0)
    with pytest.raises(ValueError, match="permutations must be"):
        SweepThresholds(permutations=5)
