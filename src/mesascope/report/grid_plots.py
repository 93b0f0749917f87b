"""Figures of a grid of agents: P(proxy-aligned) as a heatmap over two axes with each cell's
Wilson interval written in it, and against each knob with intervals (other axes pooled)."""

from __future__ import annotations

import numpy as np

from mesascope.diagnose.grid_outcomes import OUTCOME, GridAgents, share_matrix
from mesascope.diagnose.stats import wilson_interval
from mesascope.records import readings
from mesascope.report.figure import new_figure, plot_style, to_png, verdict_colour


def heatmap(agents: GridAgents, rows: str, columns: str, distribution: str = "test") -> bytes:
    """P(proxy-aligned) over `rows` x `columns` (other axes pooled); each cell shows the share,
    its 95% Wilson interval and the agents behind it, so wide intervals are visible."""
    row_values, column_values, share, low, high, count = share_matrix(agents, rows, columns)
    with plot_style():
        figure = new_figure(1.6 + 1.5 * column_values.size, 1.2 + 0.9 * row_values.size)
        axis = figure.subplots()
        image = axis.imshow(share, vmin=0, vmax=1, cmap="Oranges", aspect="auto", origin="lower")
        for i in range(row_values.size):
            for j in range(column_values.size):
                label = "no agents" if count[i, j] == 0 else f"{share[i, j]:.2f}\n[{low[i, j]:.2f}, {high[i, j]:.2f}]\nn={count[i, j]:.0f}"
                axis.text(j, i, label, ha="center", va="center", fontsize=7, color="black" if not share[i, j] > 0.6 else "white")
        axis.set_xticks(range(column_values.size), [f"{v:g}" for v in column_values])
        axis.set_yticks(range(row_values.size), [f"{v:g}" for v in row_values])
        axis.set_xlabel(columns)
        axis.set_ylabel(rows)
        axis.set_title(f"P({OUTCOME}) on {distribution}")
        figure.colorbar(image, ax=axis, fraction=0.046)
        return to_png(figure)


def shares_by_knob(agents: GridAgents, knob: str) -> bytes:
    """Share of agents in each verdict category against one knob (others pooled), Wilson 95%."""
    judged = agents.category != readings.NO_VERDICT
    values = np.unique(agents.coords[knob])
    positions = np.arange(values.size)
    with plot_style():
        figure = new_figure(5.5, 3.4)
        axis = figure.subplots()
        for offset, category in zip(np.linspace(-0.2, 0.2, len(readings.VERDICT_CATEGORIES)), readings.VERDICT_CATEGORIES):
            points = [wilson_interval(int((agents.category[judged & (agents.coords[knob] == v)] == category).sum()),
                                      int((judged & (agents.coords[knob] == v)).sum())) for v in values]
            share, low, high = (np.asarray(x) for x in zip(*points))
            axis.errorbar(positions + offset, share, yerr=[share - low, high - share], fmt="o-", ms=4, capsize=2,
                          color=verdict_colour(category), label=category)
        axis.set_xticks(positions, [f"{v:g}" for v in values])
        axis.set_xlabel(knob)
        axis.set_ylabel("share of agents (test)")
        axis.set_ylim(-0.02, 1.02)
        axis.legend(fontsize=7, frameon=False)
        return to_png(figure)
