"""Goodhart statistics on synthetic graders whose curves are known in advance: the best-of-n
estimator against closed forms, and the fitted forms recovering a known peak."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesascope.diagnose import goodhart


def test_bon_kl_closed_form_and_refuses_bad_n():
    np.testing.assert_allclose(goodhart.bon_kl([1, 2, 4]), [0.0, math.log(2) - 0.5, math.log(4) - 0.75])
    with pytest.raises(ValueError, match="n >= 1"):
        goodhart.bon_kl([0])


def test_perfect_grader_best_of_n_is_the_expected_maximum():
    rng = np.random.default_rng(0)
    true = rng.random((400, 64))
    ns = (1, 2, 8, 32)
    got_true, got_graded = goodhart.best_of_n(true, true, ns, rng)
    expected = np.array([n / (n + 1) for n in ns])  # E[max of n uniforms]
    np.testing.assert_allclose(got_true.mean(0), expected, atol=0.01)
    np.testing.assert_allclose(got_graded, got_true)


def test_grader_with_a_known_exploit_peaks_where_the_closed_form_does():
    """Episodes succeed (true 1, grade 1) with p, exploit the grader (true 0, grade 2) with q:
    the best of n is true exactly when no exploit and some success among n:
    (1-q)^n - (1-q-p)^n, which rises then falls."""
    p, q = 0.1, 0.02
    rng = np.random.default_rng(1)
    kind = rng.choice(3, size=(3000, 256), p=[p, q, 1 - p - q])
    true = (kind == 0).astype(float)
    graded = np.where(kind == 0, 1.0, np.where(kind == 1, 2.0, 0.0))
    ns = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    got, _ = goodhart.best_of_n(true, graded, ns, rng)
    expected = np.array([(1 - q) ** n - (1 - q - p) ** n for n in ns])
    np.testing.assert_allclose(got.mean(0), expected, atol=0.01)
    assert int(np.argmax(got.mean(0))) == int(np.argmax(expected))


@pytest.mark.parametrize("form,alpha,beta,peak", [("bon", 1.0, 0.5, 1.0), ("rl", 1.0, 1.0, 1.0), ("rl", 1.5, 1.0, math.exp(0.5))])
def test_fits_recover_a_known_curve_and_its_peak(form, alpha, beta, peak):
    rng = np.random.default_rng(2)
    d = np.tile(np.linspace(0.05, 3.0, 12), (24, 1))
    gain = goodhart.curve(form, alpha, beta, d.ravel()).reshape(d.shape) + rng.normal(0, 0.05, d.shape)
    fit = goodhart.fit_goodhart(form, d, gain, resamples=300)
    assert fit.alpha == pytest.approx(alpha, abs=0.05) and fit.beta == pytest.approx(beta, abs=0.05)
    assert fit.peak == pytest.approx(peak, rel=0.1)
    assert fit.peak_low <= peak <= fit.peak_high and fit.r2 > 0.95 and fit.peak_share == 1.0


def test_monotone_gain_has_no_peak():
    d = np.tile(np.linspace(0.1, 2.0, 8), (10, 1))
    fit = goodhart.fit_goodhart("bon", d, 0.5 * d + 0.1 * d**2, resamples=50)
    assert fit.beta < 0 and math.isinf(fit.peak) and fit.peak_share == 0.0


def test_a_best_of_n_gain_that_only_falls_peaks_at_zero_pressure():
    """d = sqrt(KL) >= 0: a fit with alpha <= 0 (the gain falls from the start) peaks at d = 0,
    never at the negative d where its parabola would (the command printed d* = -0.63)."""
    d = np.tile(np.linspace(0.1, 2.0, 8), (10, 1))
    fit = goodhart.fit_goodhart("bon", d, -0.3 * d - 0.2 * d**2, resamples=50)
    assert fit.alpha < 0 < fit.beta
    assert fit.peak == 0.0 and fit.peak_low == 0.0 and fit.peak_share == 1.0
