"""The Goodhart and comparison plots draw from synthetic study arrays and summaries."""

from __future__ import annotations

import math

import numpy as np

from mesascope.diagnose.goodhart import bon_kl, curves
from mesascope.report.compare import GroupSummary, compare_plot
from mesascope.report.goodhart_plot import goodhart_plot

PNG = b"\x89PNG"


def _arrays() -> dict[str, np.ndarray]:
    n = np.array([1, 4, 16, 64])
    d = np.sqrt(bon_kl(n))
    true = np.tile(0.1 + d * (0.8 - 0.3 * d), (4, 1)) + np.random.default_rng(0).normal(0, 0.01, (4, 4))
    return {
        "random_true": np.full(8, 0.1), "planner_true": np.ones(8), "bon_n": n, "bon_true": true, "bon_graded": true + d,
        "rl_steps": np.array([0, 10, 20, 30]), "rl_kl": np.tile([0.0, 1.0, 4.0, 9.0], (4, 1)), "rl_true": true, "rl_graded": true + 1,
        "plan_true": np.full(4, 0.2), "plan_graded": np.full(4, 3.0),
    }


def test_curves_locate_the_synthetic_best_of_n_peak_and_plot():
    measured = curves(_arrays())
    fit = measured.fits["bon"]
    assert fit.beta > 0 and math.isclose(fit.peak, 0.8 / 0.6, rel_tol=0.15)
    assert math.isinf(measured.points["plan"][0].d) and measured.base_true == 0.1
    assert goodhart_plot(measured, "synthetic").startswith(PNG)


def test_compare_plot_draws_every_group():
    summaries = [GroupSummary(label, 2, {"capability failure": 2}, {"task": (1.0, 0.9, 1.1), "register": (3.0, 2.0, 4.0)}, {"register": (5, 10, 0.5, 0.2, 0.8)}) for label in ("a", "b")]
    assert compare_plot(summaries, ("task", "register"), "synthetic").startswith(PNG)
