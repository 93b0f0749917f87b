"""The share of agents with each verdict at every checkpoint, with 95% Wilson intervals: the
numbers (`verdict_shares`, which tables read too) and their plot."""

from __future__ import annotations

import numpy as np

from mesascope.diagnose.stats import wilson_interval
from mesascope.records import readings
from mesascope.records.trajectory import TrajectoryRecord
from mesascope.report.figure import new_figure, plot_style, to_png, verdict_colour


def verdict_shares(found: TrajectoryRecord, category: str) -> np.ndarray:
    """(C, 3) share of agents with `category` at each checkpoint, with its 95% Wilson interval."""
    agents = found.categories.shape[0]
    return np.array([wilson_interval(int(count), agents) for count in found.counts(category)], float).reshape(-1, 3)


def trajectory_plot(found: TrajectoryRecord) -> bytes:
    """Verdict shares against environment steps."""
    with plot_style():
        figure = new_figure(6.5, 3.6)
        axis = figure.subplots()
        for category in readings.VERDICT_CATEGORIES:
            share, low, high = verdict_shares(found, category).T
            axis.plot(found.steps, share, "o-", color=verdict_colour(category), label=category, ms=4)
            axis.fill_between(found.steps, low, high, color=verdict_colour(category), alpha=0.15)
        axis.set_xlabel("environment steps per agent")
        axis.set_ylabel(f"share of agents ({found.distribution})")
        axis.set_ylim(-0.02, 1.02)
        axis.legend(fontsize=7, frameon=False)
        axis.set_title("Verdicts along training")
        return to_png(figure)
