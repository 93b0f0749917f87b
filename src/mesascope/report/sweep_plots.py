"""Plots of a sweep: how verdicts and returns on the shifted world move with the swept value.

Each function takes the sweep's results (one ExperimentResult per swept value, in order) and
the values as labels, and returns PNG bytes. Style, colours and figure plumbing come from
`report/plots.py`, so a sweep's plots look like a run's.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from mesascope.diagnose.dose import share_by_dose
from mesascope.records.results import ExperimentResult
from mesascope.report import summary
from mesascope.report.figure import (
    SHIFT_PALETTE,
    new_figure,
    placeholder,
    to_png,
    plot_style,
    objective_colour,
    objective_label,
    verdict_colour,
)


def _verdict_counts(result: ExperimentResult, shift: float | None = None) -> dict[str, int]:
    """Verdict counts on the test distribution, for agents trained at `shift` (all if None)."""
    test = summary.test_distribution(result)
    agents = {a.agent for a in result.agents if shift is None or float(a.train_shift) == shift}
    counts: dict[str, int] = {}
    for row in result.verdicts:
        if row.distribution == test and row.agent in agents:
            counts[row.verdict] = counts.get(row.verdict, 0) + 1
    return counts


def verdict_shares(results: list[ExperimentResult], labels: list[str], key: str) -> bytes:
    """Stacked share of agents per verdict at each swept value (all training shifts pooled)."""
    with plot_style():
        if not results:
            return placeholder("Verdicts across the sweep", "no runs")
        counts = [_verdict_counts(r) for r in results]
        verdicts = sorted({v for c in counts for v in c}, key=summary.verdict_sort_key)
        figure = new_figure(max(6.0, 1.1 * len(results) + 3.5), 4.6)
        ax = figure.add_subplot()
        x = np.arange(len(results))
        bottom = np.zeros(len(results))
        totals = np.array([max(1, sum(c.values())) for c in counts], float)
        for verdict in verdicts:
            share = np.array([c.get(verdict, 0) for c in counts]) / totals
            ax.bar(x, share, 0.6, bottom=bottom, color=verdict_colour(verdict), label=summary.verdict_prose(verdict), edgecolor="white")
            bottom += share
        ax.set_xticks(x, labels)
        ax.set_ylim(0, 1)
        ax.set_xlabel(key)
        ax.set_ylabel("share of agents")
        ax.set_title(f"Verdicts on {summary.test_distribution(results[0])} across the sweep")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="verdict")
        return to_png(figure)


def _draw_returns(ax: Axes, results: list[ExperimentResult], labels: list[str]) -> None:
    """Mean normalised test return per objective at each swept value, 95% CI over agents."""
    first = results[0]
    x = np.arange(len(results))
    rng = np.random.default_rng(0)
    for k, name in enumerate(first.objectives):
        per_value = [summary.agent_normalised(r, summary.test_distribution(r))[:, k] for r in results]
        stats = np.array([summary.bootstrap_ci(values) for values in per_value])
        colour = objective_colour(first, name)
        ax.fill_between(x, stats[:, 1], stats[:, 2], color=colour, alpha=0.18, lw=0)
        ax.plot(x, stats[:, 0], color=colour, marker="o", lw=2, ls="-" if k == 0 else "--", label=objective_label(first, name))
        for i, values in enumerate(per_value):
            finite = values[np.isfinite(values)]
            ax.scatter(i + rng.uniform(-0.08, 0.08, finite.size), finite, s=10, color=colour, alpha=0.45, zorder=3)
    ax.axhline(0, color="#555555", lw=0.8)
    ax.axhline(1, color="#555555", lw=0.8, ls=":")
    ax.set_xticks(x, labels)
    ax.set_ylabel(f"mean normalised return on {summary.test_distribution(first)}")
    ax.legend(loc="best")


def returns_across(results: list[ExperimentResult], labels: list[str], key: str) -> bytes:
    """Normalised test returns per objective against the swept value (band: 95% CI)."""
    with plot_style():
        if not results:
            return placeholder("Returns across the sweep", "no runs")
        figure = new_figure(max(6.5, 1.1 * len(results) + 3.0), 4.6)
        ax = figure.add_subplot()
        _draw_returns(ax, results, labels)
        ax.set_xlabel(key)
        ax.set_title("Returns on the shifted world across the sweep (dots: agents)")
        return to_png(figure)


def dose_curves(results: list[ExperimentResult], labels: list[str], key: str) -> bytes:
    """Share of robustly aligned agents against the training shift, one line per swept value
    (only meaningful when the runs train at several shift values)."""
    with plot_style():
        shifts = [summary.shift_values(r) for r in results]
        if not results or max(len(s) for s in shifts) < 2:
            return placeholder("Dose response per swept value", "each run trains at a single shift value")
        figure = new_figure(7.5, 4.8)
        ax = figure.add_subplot()
        for i, (result, label) in enumerate(zip(results, labels)):
            verdicts = summary.verdict_by_agent(result, summary.test_distribution(result))
            with_verdict = [a for a in result.agents if a.agent in verdicts]
            shares = share_by_dose(np.array([a.train_shift for a in with_verdict], float),
                                   np.array([verdicts[a.agent].verdict == "robustly aligned" for a in with_verdict]))
            doses = [s.dose for s in shares]
            colour = SHIFT_PALETTE[i % len(SHIFT_PALETTE)]
            ax.fill_between(doses, [s.low for s in shares], [s.high for s in shares], color=colour, alpha=0.15, lw=0)
            ax.plot(doses, [s.share for s in shares], marker="o", color=colour, lw=2, label=f"{key} = {label}")
        ax.set_ylim(-0.02, 1.02)
        dials = sorted({r.shift_name for r in results})
        ax.set_xlabel(f"{' / '.join(dials)} in training")
        ax.set_ylabel("share robustly aligned on test")
        ax.set_title("Dose response per swept value (band: 95% Wilson interval)")
        ax.legend(loc="best")
        return to_png(figure)


SWEEP_PLOTS = {
    "verdict_shares": ("Verdicts across the sweep", verdict_shares,
                       "The share of agents given each verdict on the shifted world, at each swept value."),
    "returns_across": ("Returns across the sweep", returns_across,
                       "Mean normalised return per objective on the shifted world (0 = random, 1 = optimal), band: 95% bootstrap CI over agents; dots are agents."),
    "dose_curves": ("Dose response per swept value", dose_curves,
                    "When every run trains at several shift values: the share of robustly aligned agents against the training shift, one line per swept value, band: 95% Wilson interval."),
}
"""Plot key -> (title, function, one-sentence reading guide), in the order the report shows them."""
