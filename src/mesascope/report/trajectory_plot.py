"""The share of agents with each verdict at every checkpoint, with 95% Wilson intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from mesascope.diagnose.stats import wilson_interval
from mesascope.records import readings
from mesascope.report.figure import new_figure, plot_style, to_png, verdict_colour


def trajectory_plot(found: Any) -> bytes:
    """Verdict shares against environment steps (a `VerdictTrajectory`)."""
    agents = found.categories.shape[0]
    with plot_style():
        figure = new_figure(6.5, 3.6)
        axis = figure.subplots()
        for category in readings.VERDICT_CATEGORIES:
            points = [wilson_interval(int((found.categories[:, c] == category).sum()), agents) for c in range(found.steps.size)]
            share, low, high = (np.asarray(x) for x in zip(*points))
            axis.plot(found.steps, share, "o-", color=verdict_colour(category), label=category, ms=4)
            axis.fill_between(found.steps, low, high, color=verdict_colour(category), alpha=0.15)
        axis.set_xlabel("environment steps per agent")
        axis.set_ylabel(f"share of agents ({found.distribution})")
        axis.set_ylim(-0.02, 1.02)
        axis.legend(fontsize=7, frameon=False)
        axis.set_title("Verdicts along training")
        return to_png(figure)
