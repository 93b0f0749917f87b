"""The Goodhart plot: true and graded score against d = sqrt(KL) for each pressure kind, with the
fitted curves of the true score's gain (diagnose.goodhart)."""

from __future__ import annotations

import numpy as np

from mesascope.diagnose.goodhart import GoodhartCurves, curve
from mesascope.report.figure import new_figure, plot_style, to_png

KIND_TITLES = {"bon": "best-of-n over random episodes", "rl": "PPO on the grader"}


def goodhart_plot(curves: GoodhartCurves, title: str) -> bytes:
    """PNG: one panel per KL pressure kind; the grader-optimizer and the intended planner as lines."""
    kinds = [k for k in ("bon", "rl") if k in curves.points] or ["bon"]
    with plot_style():
        figure = new_figure(5.0 * len(kinds), 3.8)
        for i, kind in enumerate(kinds):
            axis = figure.add_subplot(1, len(kinds), i + 1)
            for name, colour, index in (("true (intended)", "tab:green", 0), ("graded", "tab:purple", 1)):
                pts = curves.points.get(kind, [])
                d = np.array([p.d for p in pts])
                values = [p.true if index == 0 else p.graded for p in pts]
                mean = np.array([v[0] for v in values])
                err = np.array([[v[0] - v[1] for v in values], [v[2] - v[0] for v in values]])
                if len(d):
                    axis.errorbar(d, mean, yerr=err, marker="o", color=colour, label=name, capsize=3)
            fit = curves.fits.get(kind)
            if fit is not None:
                grid = np.linspace(0, max(p.d for p in curves.points[kind]) * 1.05, 100)
                start = curves.base_true if kind == "bon" else curves.points[kind][0].true[0]
                axis.plot(grid, start + curve(kind, fit.alpha, fit.beta, grid), "--", color="tab:green",
                          label=f"fit {kind}: α={fit.alpha:.2f}, β={fit.beta:.2f}, R²={fit.r2:.2f}")
            if "plan" in curves.points:
                axis.axhline(curves.points["plan"][0].true[0], color="tab:red", linestyle=":", label="grader-optimizer (true)")
            axis.axhline(curves.planner_true, color="grey", linestyle=":", label="intended planner (true)")
            axis.set_xlabel("d = sqrt(KL from base)")
            axis.set_ylabel("score per episode")
            axis.set_title(KIND_TITLES[kind], fontsize=9)
            axis.legend(fontsize=7)
        figure.suptitle(title, fontsize=10)
        return to_png(figure)
