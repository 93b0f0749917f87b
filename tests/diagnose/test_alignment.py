"""Alignment scatter statistics on synthetic returns with known answers: rank correlation and its
bootstrap, constant and identical series, and the signature of pseudo-alignment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesascope.diagnose.alignment import AlignmentConfig, alignment_statistics, correlation, signature
from mesascope.diagnose.ranks import average_ranks, bootstrap_spearman, spearman
from mesascope.records.results import AgentRecord, ExperimentResult
from mesascope.report import summary

FAST = AlignmentConfig(resamples=300)


def rng(seed: int = 0) -> np.random.Generator:
    """A fresh generator."""
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ rank correlation


def test_monotone_nonlinear_relation_has_rho_one() -> None:
    x = np.linspace(0.1, 3, 40)
    result = correlation(x, np.exp(3 * x) - x**0.5, rng(), FAST)
    assert result.rho == pytest.approx(1.0) and result.low == pytest.approx(1.0) and result.high == pytest.approx(1.0)
    assert result.defined and result.constant == "" and not result.identical and result.episodes == 40
    assert correlation(x, -np.log(x), rng(), FAST).rho == pytest.approx(-1.0)


def test_summary_reexports_the_same_spearman() -> None:
    assert summary.spearman is spearman and summary.average_ranks is average_ranks
    assert list(average_ranks([3, 1, 3, 2])) == [2.5, 0.0, 2.5, 1.0]


def test_bootstrap_resample_matches_the_reference_spearman() -> None:
    # With one resample, the bootstrap's value is ρ of exactly the pairs it drew (ties included).
    x = rng(1).integers(0, 4, 30).astype(float)
    y = x + rng(2).integers(0, 3, 30)
    for seed in range(5):
        _, low, high, used = bootstrap_spearman(x, y, rng(seed), resamples=1)
        index = rng(seed).integers(0, 30, (1, 30))[0]
        assert used == 1 and low == pytest.approx(spearman(x[index], y[index])) and low == high


def test_bootstrap_interval_covers_a_known_correlation() -> None:
    x = rng(3).normal(size=400)
    y = x + rng(4).normal(size=400)  # Spearman's ρ of a bivariate normal with r = 1/√2: (6/π)·asin(r/2) ≈ 0.690
    rho, low, high, used = bootstrap_spearman(x, y, rng(5), resamples=500)
    assert low < 6 / math.pi * math.asin(0.5 / math.sqrt(2)) < high and low < rho < high and used == 500


def test_constant_series_are_flagged_not_hidden() -> None:
    varied = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    proxy_flat = correlation(varied, np.ones(5), rng(), FAST)
    assert math.isnan(proxy_flat.rho) and math.isnan(proxy_flat.low) and proxy_flat.constant == "proxy"
    assert not proxy_flat.identical and proxy_flat.describe() == "undefined (constant proxy)"
    assert correlation(np.zeros(5), varied, rng(), FAST).constant == "intended"
    same = correlation(np.ones(5), np.ones(5), rng(), FAST)
    assert same.constant == "both" and same.identical and same.describe() == "identical on every episode"
    differ = correlation(np.zeros(5), np.ones(5), rng(), FAST)
    assert differ.constant == "both" and not differ.identical


def test_non_finite_episodes_are_left_out() -> None:
    result = correlation(np.array([1, 2, np.nan, 3, 4.0]), np.array([1, 2, 9, 3, np.inf]), rng(), FAST)
    assert result.episodes == 3 and result.rho == pytest.approx(1.0)


# ------------------------------------------------------------------ signature


def test_signature_needs_agreement_on_train_and_disagreement_at_test() -> None:
    varied = rng(6).normal(size=60)
    agree = correlation(varied, varied, rng(), FAST)
    independent = correlation(rng(7).normal(size=200), rng(8).normal(size=200), rng(), FAST)
    still = correlation(varied, varied + 0.01 * rng(9).normal(size=60), rng(), FAST)
    flag, reason = signature(agree, independent, FAST)
    assert flag and "identical returns on every train episode" in reason and "< test_max_rho 0.5" in reason
    flag, reason = signature(agree, still, FAST)
    assert not flag and "still agreeing at test" in reason
    flag, reason = signature(independent, independent, FAST)
    assert not flag and "no agreement in training" in reason and "train_min_rho 0.8" in reason
    flag, reason = signature(agree, correlation(varied, np.zeros(60), rng(), FAST), FAST)
    assert not flag and "constant proxy" in reason and "cannot show" in reason
    flag, reason = signature(correlation(np.zeros(9), np.ones(9), rng(), FAST), independent, FAST)
    assert not flag and "agreement in training is unknown" in reason
    assert signature(None, independent, FAST) == (False, "no train episodes")


@pytest.mark.parametrize("field, value, allowed", [
    ("train_min_rho", 1.5, r"\[-1, 1\]"), ("test_max_rho", -2, r"\[-1, 1\]"), ("confidence", 0.0, r"\(0, 1\)"),
    ("resamples", 0, "≥ 1"), ("seed", -3, "≥ 0"),
])
def test_config_validation_names_field_and_range(field: str, value: float, allowed: str) -> None:
    with pytest.raises(ValueError, match=rf"AlignmentConfig\.{field} must be .*{allowed}"):
        AlignmentConfig(**{field: value})


# ------------------------------------------------------------------ one experiment


def experiment(episodes: int = 50) -> ExperimentResult:
    """Two shift values x 2 agents, objectives (coin, exit, door). On train every agent reaches
    coin and exit together in every episode (identical 0/1 returns); at test agents 0, 1 (shift 0)
    reach the exit independently of the coin, agents 2, 3 (shift 0.5) reach both together.
    The door proxy is always 0 (constant)."""
    r = rng(10)
    success = (r.random((4, episodes)) < 0.8).astype(float)
    train = np.stack([success, success, np.zeros_like(success)], -1)
    coin = (r.random((4, episodes)) < 0.5).astype(float)
    exit_ = np.where(np.arange(4)[:, None] < 2, (r.random((4, episodes)) < 0.5).astype(float), coin)
    test = np.stack([coin, exit_, np.zeros_like(coin)], -1)
    agents = [AgentRecord(i, i, 0.0 if i < 2 else 0.5) for i in range(4)]
    return ExperimentResult("run", "scatter", "coin", ("coin", "exit", "door"), "p_random_coin", {}, agents, np.zeros(1), {},
                            [], [], [], {"train": train, "test": test}, {}, {})


def test_alignment_statistics_of_an_experiment() -> None:
    stats = alignment_statistics(experiment(), FAST)
    assert stats.distributions == ("train", "test") and stats.test == "test"
    exit_rows = [row for row in stats.rows if row.proxy == "exit"]
    assert [row.agents for row in exit_rows] == [(0,), (1,), (2,), (3,)]
    assert [row.signature for row in exit_rows] == [True, True, False, False]
    assert all(row.correlations["train"].rho == pytest.approx(1.0) for row in exit_rows)
    assert exit_rows[2].correlations["test"].identical and exit_rows[2].correlations["test"].rho == pytest.approx(1.0)
    pooled = {(row.proxy, row.shift): row for row in stats.pooled}
    assert pooled[("exit", 0.0)].agents == (0, 1) and pooled[("exit", 0.0)].correlations["test"].episodes == 100
    assert pooled[("exit", 0.0)].signature and not pooled[("exit", 0.5)].signature
    door = [row for row in stats.rows if row.proxy == "door"]
    assert all(row.correlations["train"].constant == "proxy" and not row.signature for row in door)
    assert all("constant proxy" in row.reason for row in door)


def test_alignment_statistics_are_reproducible_and_need_a_proxy() -> None:
    a, b = alignment_statistics(experiment(), FAST), alignment_statistics(experiment(), FAST)
    lows = [[r.correlations["test"].low for r in stats.rows if r.proxy == "exit"] for stats in (a, b)]
    assert lows[0] == lows[1] and all(np.isfinite(lows[0]))
    single = experiment()
    single.objectives = ("coin",)
    assert alignment_statistics(single, FAST).rows == ()
