"""Dose-response statistics on data with known answers: chi-square tails, Wilson intervals,
logistic fits of simulated curves, separation, goodness of fit, and one synthetic experiment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesascope.diagnose import logistic
from mesascope.diagnose.dose import DoseConfig, dose_response, fit_logistic, mean_by_dose, share_by_dose
from mesascope.diagnose.stats import chi2_sf, wilson_interval
from mesascope.records.results import AgentRecord, EvaluationRow, ExperimentResult, VerdictRow

FAST = DoseConfig(resamples=300)


def simulate(a: float, b: float, doses: np.ndarray, per_dose: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-agent doses and outcomes drawn from P(outcome | d) = σ(a + b·d)."""
    rng = np.random.default_rng(seed)
    dose = np.repeat(doses, per_dose)
    return dose, rng.random(dose.size) < 1 / (1 + np.exp(-(a + b * dose)))


def exact(shares: list[float], per_dose: int, doses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-agent data whose share at each dose is exactly `shares` (rounded to whole agents)."""
    dose = np.repeat(doses, per_dose)
    outcome = np.concatenate([np.arange(per_dose) < round(s * per_dose) for s in shares])
    return dose, outcome


# ------------------------------------------------------------------ chi-square and Wilson


@pytest.mark.parametrize("x, df, expected", [
    (3.84, 1, 0.05004352), (5.99, 2, 0.05003663), (7.81, 3, 0.05010606),
    (10.0, 4, 6 * math.exp(-5)), (1.0, 1, 0.31731051), (20.0, 7, 0.00556968), (40.0, 30, 0.10486428),
])
def test_chi2_survival_matches_known_values(x: float, df: int, expected: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-6)


def test_chi2_survival_edges_and_bad_df() -> None:
    assert chi2_sf(0.0, 3) == 1.0 and chi2_sf(-1.0, 2) == 1.0
    assert chi2_sf(3000.0, 3) == 0.0 and math.isnan(chi2_sf(float("nan"), 1))
    assert chi2_sf(1500.0, 1500) == pytest.approx(0.4951442, rel=1e-5)  # large df: no overflow
    for df in (0, 1.5, -2):
        with pytest.raises(ValueError, match="df must be a positive integer"):
            chi2_sf(1.0, df)


def test_wilson_interval_matches_hand_computed_values() -> None:
    # z = 1.959964: centre (p + z²/2n)/(1 + z²/n), half-width z/(1 + z²/n)·sqrt(p(1−p)/n + z²/4n²)
    assert wilson_interval(8, 10) == pytest.approx((0.8, 0.4901625, 0.9433178), abs=1e-6)
    assert wilson_interval(5, 10) == pytest.approx((0.5, 0.2365931, 0.7634069), abs=1e-6)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.0, 0.2775328), abs=1e-6)
    assert wilson_interval(10, 10) == pytest.approx((1.0, 0.7224672, 1.0), abs=1e-6)
    # 1 of 4 at 90%: z² = 2.705543, centre 0.588193/1.676386 = 0.350870, half 0.981190·0.298578 = 0.292962
    assert wilson_interval(1, 4, 0.9)[1:] == pytest.approx((0.057908, 0.643832), abs=1e-6)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="successes must be in"):
        wilson_interval(3, 2)


# ------------------------------------------------------------------ logistic fits


def test_known_logistic_curve_is_recovered_and_fits() -> None:
    dose, outcome = simulate(-3.0, 6.0, np.linspace(0, 1, 6), 2000, seed=1)
    fit = fit_logistic(dose, outcome, FAST)
    assert fit.a == pytest.approx(-3.0, abs=0.25) and fit.b == pytest.approx(6.0, abs=0.4)
    assert fit.ed50 == pytest.approx(0.5, abs=0.02)
    assert fit.ed50_low < 0.5 < fit.ed50_high and fit.ed50_high - fit.ed50_low < 0.05
    assert fit.fits and fit.reason.startswith("fits") and fit.gof_df == 4 and fit.gof_p >= 0.05
    assert fit.lr_p < 1e-10 and not fit.separated and fit.bracket is None
    truth = 1 / (1 + np.exp(-(-3 + 6 * fit.grid)))
    assert np.all(fit.band_low <= fit.curve) and np.all(fit.curve <= fit.band_high)
    assert np.abs(fit.curve - truth).max() < 0.03
    assert np.mean((fit.band_low <= truth) & (truth <= fit.band_high)) > 0.8


def test_mle_solves_the_score_equations() -> None:
    dose, outcome = simulate(-2.0, 5.0, np.array([0.0, 0.1, 0.3, 0.6]), 12, seed=2)
    fit = fit_logistic(dose, outcome, FAST)
    p = 1 / (1 + np.exp(-(fit.a + fit.b * dose)))
    assert abs(np.sum(outcome - p)) < 1e-8 and abs(np.sum(dose * (outcome - p))) < 1e-8
    # and no nearby (a, b) has a higher likelihood
    levels, trials, successes = logistic.group(dose, outcome)
    around = np.array([[fit.a + da, fit.b + db] for da in (-0.01, 0, 0.01) for db in (-0.01, 0, 0.01)])
    values = logistic.log_likelihood(around[:, 0], around[:, 1], levels, trials, successes)
    assert values.max() == pytest.approx(fit.log_likelihood) and np.argmax(values) == 4


def test_flat_response_is_not_significant() -> None:
    dose, outcome = exact([0.4] * 5, 40, np.linspace(0, 1, 5))
    fit = fit_logistic(dose, outcome, FAST)
    assert fit.b == pytest.approx(0.0, abs=1e-9) and fit.lr_p == pytest.approx(1.0)
    assert not fit.fits and "slope is not significant" in fit.reason and "alpha = 0.05" in fit.reason


def test_perfect_separation_is_detected_and_bracketed() -> None:
    dose = np.array([0, 0, 0, 0.2, 0.2, 0.5, 0.5, 1, 1])
    fit = fit_logistic(dose, dose >= 0.5, FAST)
    assert fit.separated and not fit.fits and fit.bracket == (0.2, 0.5) and fit.b == math.inf
    assert math.isnan(fit.ed50) and "perfect separation" in fit.reason and "between doses 0.2 and 0.5" in fit.reason
    assert fit.log_likelihood == 0.0 and fit.lr_p < 0.01  # the supremum; the dose clearly matters
    reverse = fit_logistic(dose, dose < 0.5, FAST)
    assert reverse.separated and reverse.b == -math.inf and reverse.bracket == (0.2, 0.5) and "lower dose" in reverse.reason


def test_quasi_separation_is_detected() -> None:
    dose = np.array([0, 0, 0.5, 0.5, 0.5, 0.5, 1, 1])
    outcome = np.array([0, 0, 0, 1, 1, 1, 1, 1])  # one dose holds both outcomes, 3 of 4 succeed
    fit = fit_logistic(dose, outcome, FAST)
    assert fit.separated and "quasi-perfect separation" in fit.reason and fit.bracket == (0.0, 0.5)
    even = fit_logistic(dose, np.array([0, 0, 0, 0, 1, 1, 1, 1]), FAST)
    assert even.bracket == (0.5, 0.5) and "at dose 0.5" in even.reason


def test_separation_without_a_crossing_says_the_share_never_reaches_half() -> None:
    """One success among 8 agents at the highest dose only (the adversarial study's first
    ladder): quasi-separated, yet the share never crosses 50%, so there is no bracket."""
    dose = np.repeat([0.0, 0.01, 0.02, 0.05, 0.1], 8)
    outcome = np.zeros(40, bool)
    outcome[-1] = True
    fit = fit_logistic(dose, outcome, FAST)
    assert fit.separated and fit.bracket is None and not fit.fits
    assert "never crosses 50% within the doses tested: it stays below (from 0.00 to 0.12)" in fit.reason


def test_goodness_of_fit_rejects_a_non_monotone_response() -> None:
    # U-shaped in the middle (up, down, up): a clear slope, but not a logistic shape.
    dose, outcome = exact([0.05, 0.3, 0.9, 0.3, 0.95], 200, np.linspace(0, 1, 5))
    fit = fit_logistic(dose, outcome, FAST)
    assert fit.lr_p < 0.05 and fit.gof_p < 1e-10 and fit.gof_df == 3
    assert not fit.fits and "goodness of fit is rejected" in fit.reason and "slope" not in fit.reason


def test_two_doses_fit_without_a_goodness_of_fit_test() -> None:
    dose, outcome = exact([0.2, 0.8], 50, np.array([0.0, 1.0]))
    fit = fit_logistic(dose, outcome, FAST)
    assert fit.fits and fit.gof_df == 0 and math.isnan(fit.gof_p) and "no goodness-of-fit test" in fit.reason
    assert fit.ed50 == pytest.approx(0.5) and fit.deviance != fit.deviance  # NaN


def test_ed50_beyond_the_doses_is_marked_extrapolated() -> None:
    dose, outcome = simulate(-3.0, 2.0, np.linspace(0, 1, 4), 1500, seed=4)  # true ED50 = 1.5
    fit = fit_logistic(dose, outcome, FAST)
    assert fit.fits and fit.ed50 == pytest.approx(1.5, abs=0.25) and "extrapolated" in fit.reason


@pytest.mark.parametrize("dose, outcome, words", [
    ([], [], "no agents"),
    ([0.3, 0.3, 0.3], [0, 1, 1], "same dose"),
    ([0.0, 0.5, 1.0], [1, 1, 1], "every agent had the outcome"),
    ([0.0, 0.5, 1.0], [0, 0, 0], "no agent had the outcome"),
])
def test_degenerate_data_do_not_fit_and_say_why(dose: list, outcome: list, words: str) -> None:
    fit = fit_logistic(np.array(dose, float), np.array(outcome, bool), FAST)
    assert not fit.fits and words in fit.reason and math.isnan(fit.a)


def test_bad_input_raises_naming_the_field() -> None:
    with pytest.raises(ValueError, match="outcomes must be binary"):
        fit_logistic(np.array([0.0, 1.0]), np.array([0, 2]))
    with pytest.raises(ValueError, match="one entry per agent"):
        fit_logistic(np.array([0.0, 1.0]), np.array([0]))
    with pytest.raises(ValueError, match="doses must be finite"):
        fit_logistic(np.array([0.0, np.nan]), np.array([0, 1]))


@pytest.mark.parametrize("field, value, allowed", [
    ("alpha", 1.5, r"\(0, 1\)"), ("alpha_gof", 0, r"\(0, 1\)"), ("confidence", 1.0, r"\(0, 1\)"),
    ("resamples", 0, "≥ 1"), ("seed", -1, "≥ 0"), ("grid_points", 1, "≥ 2"), ("resamples", 2.5, "integer"),
])
def test_config_validation_names_field_and_range(field: str, value: float, allowed: str) -> None:
    with pytest.raises(ValueError, match=rf"DoseConfig\.{field} must be .*{allowed}"):
        DoseConfig(**{field: value})


# ------------------------------------------------------------------ per-dose tables


def test_mean_and_share_by_dose() -> None:
    dose = np.array([0.0, 0.0, 0.0, 1.0, 1.0])
    means = mean_by_dose(dose, np.array([0.2, 0.4, np.nan, 1.0, 1.0]), FAST, levels=np.array([0.0, 0.5, 1.0]))
    assert [(m.dose, m.agents, m.defined) for m in means] == [(0.0, 3, 2), (0.5, 0, 0), (1.0, 2, 2)]
    assert means[0].mean == pytest.approx(0.3) and 0.2 <= means[0].low <= means[0].high <= 0.4
    assert math.isnan(means[1].mean) and means[2].low == means[2].high == 1.0
    shares = share_by_dose(dose, np.array([1, 0, 0, 1, 1]), FAST)
    assert [(s.dose, s.agents, s.successes) for s in shares] == [(0.0, 3, 1), (1.0, 2, 2)]
    assert (shares[0].share, shares[0].low, shares[0].high) == pytest.approx(wilson_interval(1, 3))


# ------------------------------------------------------------------ one experiment


def experiment(per_shift: int = 40) -> tuple[ExperimentResult, np.ndarray, np.ndarray]:
    """Shifts 0, 0.1, …, 0.5 with `per_shift` agents each; agent i is robustly aligned with
    probability σ(−4 + 16·shift) (else proxy-aligned), and its normalised coin return on test is
    0.9 if aligned, 0.1 if not; the last agent has no verdict. Returns the result, the shifts
    and who is aligned."""
    rng = np.random.default_rng(3)
    shifts = np.repeat(np.linspace(0, 0.5, 6), per_shift)
    aligned = rng.random(shifts.size) < 1 / (1 + np.exp(-(-4 + 16 * shifts)))
    agents = [AgentRecord(i, i, float(s)) for i, s in enumerate(shifts)]
    evaluations = [EvaluationRow(i, "test", name, 0, 0, 0, value, value, value, 10, 0)
                   for i, a in enumerate(aligned) for name, value in (("coin", 0.9 if a else 0.1), ("exit", 0.95))]
    verdicts = [VerdictRow(i, "test", "robustly aligned" if a else "proxy-aligned", "", {}) for i, a in enumerate(aligned)][:-1]
    result = ExperimentResult("run", "dose", "coin", ("coin", "exit"), "p_random_coin", {}, agents, np.zeros(1), {},
                              evaluations, [], verdicts, {}, {}, {})
    return result, shifts, aligned


def test_dose_response_of_an_experiment() -> None:
    result, shifts, aligned = experiment()
    response = dose_response(result, FAST)
    assert response.dial == "p_random_coin" and response.distribution == "test" and response.without_verdict == 1
    assert response.doses == pytest.approx(tuple(np.linspace(0, 0.5, 6)))
    judged = np.arange(shifts.size) < shifts.size - 1
    for share, dose in zip(response.shares["robustly aligned"], response.doses):
        members = judged & (shifts == dose)
        assert (share.agents, share.successes) == (members.sum(), aligned[members].sum())
    for mean, dose in zip(response.returns["coin"], response.doses):
        assert mean.mean == pytest.approx(np.mean(np.where(aligned[shifts == dose], 0.9, 0.1)))
    assert all(m.mean == pytest.approx(0.95) for m in response.returns["exit"])
    assert sum(s.successes for s in response.shares["capability failure"]) == 0
    fit, proxy = response.fits["robustly aligned"], response.fits["proxy-aligned"]
    assert fit.fits and fit.ed50 == pytest.approx(0.25, abs=0.06) and fit.b > 0
    assert proxy.fits and proxy.ed50 == pytest.approx(fit.ed50) and proxy.b == pytest.approx(-fit.b)


def test_dose_response_without_agents() -> None:
    empty = ExperimentResult("run", "dose", "coin", ("coin", "exit"), "p", {}, [], np.zeros(1), {}, [], [], [], {}, {}, {})
    response = dose_response(empty, FAST)
    assert response.doses == () and not response.fits["robustly aligned"].fits
    assert "no agents" in response.fits["robustly aligned"].reason
