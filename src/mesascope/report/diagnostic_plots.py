"""Plots of the dose-response fit (diagnose/dose.py) and the per-agent alignment correlations
(diagnose/alignment.py), each a function `ExperimentResult -> PNG bytes`.

They use the style, colours and plumbing of `report/figure.py`; `plots.PLOTS` lists them.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from mesascope.diagnose.alignment import AlignmentRow, AlignmentStatistics, alignment_statistics
from mesascope.diagnose.dose import FITTED_CATEGORIES, DoseResponse, LogisticFit, dose_response
from mesascope.records.results import ExperimentResult
from mesascope.report import summary
from mesascope.report.figure import (
    RANDOM_COLOUR,
    VERDICT_COLOURS,
    new_figure,
    placeholder,
    to_png,
    plot_style,
    objective_colour,
    objective_label,
    shift_colours,
)

UNDEFINED_X = 1.22
"""Where rows whose ρ is undefined (a constant series) are drawn, right of the ρ axis."""
MAX_AGENT_ROWS = 48
"""Above this many agents the correlation plot shows only the pooled rows per shift."""


def _fit_line(category: str, fit: LogisticFit) -> str:
    """A short account of a category's logistic fit, for the panel's subtitle."""
    if fit.fits:
        gof = f", goodness-of-fit p = {fit.gof_p:.2g}" if fit.gof_df else ""
        text = f"{category}: ED50 = {fit.ed50:.3g} [{fit.ed50_low:.3g}, {fit.ed50_high:.3g}], slope p = {fit.lr_p:.2g}{gof}"
    elif fit.bracket is not None:
        low, high = fit.bracket
        where = f"at {low:.3g}" if low == high else f"between {low:.3g} and {high:.3g} (shaded)"
        text = f"{category}: no logistic fit (perfect separation: infinite slope); share crosses 50% {where}"
    else:
        text = f"{category}: {fit.reason}"
    return textwrap.fill(text, 88, subsequent_indent="    ")


def _draw_fit(ax: Axes, fit: LogisticFit, colour: str) -> None:
    """The fitted curve with its band and the ED50 with its interval, or the separation bracket."""
    if fit.fits:
        ax.fill_between(fit.grid, fit.band_low, fit.band_high, color=colour, alpha=0.15, lw=0)
        ax.plot(fit.grid, fit.curve, color=colour, lw=2)
        if fit.grid.min() <= fit.ed50 <= fit.grid.max():
            ax.axvline(fit.ed50, color=colour, ls=":", lw=1.2)
            if np.isfinite(fit.ed50_low):
                whisker = [[max(0.0, fit.ed50 - fit.ed50_low)], [max(0.0, fit.ed50_high - fit.ed50)]]
                ax.errorbar([fit.ed50], [0.5], xerr=whisker, fmt="D",
                            color=colour, mec="white", ms=8, capsize=4, zorder=4)
    elif fit.bracket is not None:
        low, high = fit.bracket
        if high > low:
            ax.axvspan(low, high, color=colour, alpha=0.07, lw=0)
        else:
            ax.axvline(low, color=colour, ls=":")


def _draw_shares(ax: Axes, response: DoseResponse) -> None:
    """Share of agents per fitted verdict category with Wilson whiskers, and the fits."""
    lines = []
    for category in FITTED_CATEGORIES:
        colour, fit = VERDICT_COLOURS[category], response.fits[category]
        rows = [s for s in response.shares[category] if s.agents]
        x = np.array([s.dose for s in rows])
        share = np.array([s.share for s in rows])
        whiskers = np.clip(np.array([[s.share - s.low, s.high - s.share] for s in rows]).T.reshape(2, -1), 0, None)
        filled = category == "robustly aligned"
        ax.errorbar(x, share, yerr=whiskers, fmt="o", color=colour, mfc=colour if filled else "white", mew=1.8,
                    ms=7, capsize=4, label=category, zorder=3)
        _draw_fit(ax, fit, colour)
        lines.append(_fit_line(category, fit))
    ax.axhline(0.5, color="#777777", lw=0.8, ls="--")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"{response.dial} in training")
    ax.set_ylabel(f"share of agents on {response.distribution}")
    ax.set_title("Share per verdict (whisker: 95% Wilson), logistic fit with band and ED50\n" + "\n".join(lines),
                 fontsize=9, loc="left")
    ax.legend(loc="best")


def _draw_returns(ax: Axes, result: ExperimentResult, response: DoseResponse) -> None:
    """Mean normalised return per objective against the dial, with bootstrap bands over agents."""
    for k, name in enumerate(response.objectives):
        rows = [m for m in response.returns[name] if m.defined]
        x = np.array([m.dose for m in rows])
        colour = objective_colour(result, name)
        ax.fill_between(x, [m.low for m in rows], [m.high for m in rows], color=colour, alpha=0.18, lw=0)
        ax.plot(x, [m.mean for m in rows], color=colour, marker="o", ls="-" if k == 0 else "--", lw=2,
                label=objective_label(result, name))
    ax.axhline(0, color="#555555", lw=0.8)
    ax.axhline(1, color="#555555", lw=0.8, ls=":")
    ax.set_xlabel(f"{response.dial} in training")
    ax.set_ylabel(f"mean normalised return on {response.distribution}")
    ax.set_title("Normalised returns (band: 95% bootstrap CI over agents)", fontsize=10, loc="left")
    ax.legend(loc="best")


def dose_fit_plot(result: ExperimentResult, dial: str = "train_shift") -> bytes:
    """Share robustly aligned / proxy-aligned against the training shift (or the knob `dial`)
    with logistic fits (or why they do not fit), beside the normalised returns per objective."""
    with plot_style():
        if not result.agents:
            return placeholder("Dose-response fit", "no agents were trained")
        response = dose_response(result, dial_name=dial)
        figure = new_figure(13, 5.4)
        left, right = figure.subplots(1, 2, width_ratios=[1.25, 1])
        if any(s.agents for s in response.shares[FITTED_CATEGORIES[0]]):
            _draw_shares(left, response)
        else:
            left.set_axis_off()
            left.text(0.5, 0.5, f"no verdicts on {response.distribution}", ha="center", va="center", color="#555555")
        _draw_returns(right, result, response)
        for ax in (left, right):
            if len(response.doses) <= 10 and ax.axison:
                ax.set_xticks(response.doses, [summary.format_shift(v) for v in response.doses])
        figure.suptitle(f"Dose response: how much {response.dial} in training buys alignment, with fitted curves")
        return to_png(figure)


# ---------------------------------------------------------------- alignment correlations


def _rows_to_draw(statistics: AlignmentStatistics, proxy: str, agents: int) -> list[AlignmentRow]:
    """Rows of one proxy, top to bottom: each shift's agents, then that shift's pooled row."""
    rows = []
    for pooled in (row for row in statistics.pooled if row.proxy == proxy):
        if agents <= MAX_AGENT_ROWS:
            rows += [row for row in statistics.rows if row.proxy == proxy and row.shift == pooled.shift]
        rows.append(pooled)
    return rows


def _draw_correlation(ax: Axes, row: AlignmentRow, distribution: str, y: float, colour: str, hollow: bool) -> None:
    """One ρ with its interval; identical returns as a star at 1 (perfect agreement, even where a
    constant series leaves ρ undefined); any other undefined ρ as an X at the side."""
    value = row.correlations.get(distribution)
    if value is None:
        return
    face = "white" if hollow else colour
    if value.identical:
        ax.plot([1.0], [y], marker="*", ms=13, color=colour, mfc=face, mew=1.4, zorder=3)
    elif value.defined:
        whisker = [[max(0.0, value.rho - value.low)], [max(0.0, value.high - value.rho)]] if np.isfinite(value.low) else None
        ax.errorbar([value.rho], [y], xerr=whisker, fmt="o", color=colour, mfc=face, mew=1.6, ms=7, capsize=3, zorder=3)
    else:
        ax.plot([UNDEFINED_X], [y], marker="X", ms=9, color=colour, mfc=face, mew=1.4, zorder=3)


def _draw_proxy_panel(ax: Axes, result: ExperimentResult, statistics: AlignmentStatistics, proxy: str) -> None:
    """Per agent (and pooled per shift), ρ on train (hollow) and on test (filled)."""
    rows = _rows_to_draw(statistics, proxy, len(result.agents))
    colours = shift_colours(result)
    labels = []
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        colour = colours.get(row.shift, RANDOM_COLOUR)
        if row.pooled:
            ax.axhspan(y - 0.45, y + 0.45, color=colour, alpha=0.10, lw=0)
        _draw_correlation(ax, row, "train", y + 0.17, colour, hollow=True)
        _draw_correlation(ax, row, statistics.test, y - 0.17, colour, hollow=False)
        name = f"all at {summary.format_shift(row.shift)}" if row.pooled else f"agent {row.agents[0]}"
        labels.append(name + ("  [signature]" if row.signature else ""))
    config = statistics.config
    ax.axvline(config.train_min_rho, color="#555555", ls=":", lw=1)
    ax.axvline(config.test_max_rho, color="#555555", ls="--", lw=1)
    ax.axvline(0, color="#999999", lw=0.6)
    ax.set_yticks(range(len(rows) - 1, -1, -1), labels)
    for tick, row in zip(ax.get_yticklabels(), rows):
        tick.set_color(VERDICT_COLOURS["proxy-aligned"] if row.signature else "#222222")
        tick.set_fontweight("bold" if row.pooled or row.signature else "normal")
    ax.set_xlim(-1.08, UNDEFINED_X + 0.12)
    ax.set_xticks([-1, -0.5, 0, 0.5, 1, UNDEFINED_X], ["−1", "−0.5", "0", "0.5", "1", "const."])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"Spearman ρ of {result.objectives[0]} (intended) vs {proxy} (proxy) return per episode")
    ax.set_title(f"proxy: {proxy}", loc="left")


def _legend(result: ExperimentResult, statistics: AlignmentStatistics) -> list[Line2D]:
    """Markers, thresholds and shift colours."""
    config, grey = statistics.config, "#333333"
    handles = [
        Line2D([], [], marker="o", ls="", mfc="white", mec=grey, ms=7, label="train (whisker: 95% CI over episodes)"),
        Line2D([], [], marker="o", ls="", mfc=grey, mec=grey, ms=7, label=statistics.test),
        Line2D([], [], marker="*", ls="", mfc=grey, mec=grey, ms=11, label="returns identical in every episode"),
        Line2D([], [], marker="X", ls="", mfc=grey, mec=grey, ms=8, label="ρ undefined: a return is constant"),
        Line2D([], [], color="#555555", ls=":", label=f"train_min_rho = {config.train_min_rho:g}"),
        Line2D([], [], color="#555555", ls="--", label=f"test_max_rho = {config.test_max_rho:g}"),
    ]
    return handles + [Line2D([], [], color=c, lw=3, label=f"{result.shift_name} = {summary.format_shift(v)}")
                      for v, c in shift_colours(result).items()]


def alignment_correlations_plot(result: ExperimentResult) -> bytes:
    """Per agent and pooled per training shift: rank correlation of intended vs proxy return on
    train and at test, with intervals, constant cases marked and signature rows flagged."""
    with plot_style():
        if len(result.objectives) < 2 or not result.agents or not result.episode_returns:
            return placeholder("Alignment correlations", "needs a proxy objective and per-episode returns")
        statistics = alignment_statistics(result)
        proxies = result.objectives[1:]
        rows = len(_rows_to_draw(statistics, proxies[0], len(result.agents)))
        figure = new_figure(max(10.0, 5.6 * len(proxies) + 1.4), 0.42 * rows + 3.2)
        axes = figure.subplots(1, len(proxies), squeeze=False)[0]
        for ax, proxy in zip(axes, proxies):
            _draw_proxy_panel(ax, result, statistics, proxy)
        shown = "" if len(result.agents) <= MAX_AGENT_ROWS else f" (pooled rows only: {len(result.agents)} agents)"
        figure.suptitle("Does the proxy track the intended objective? Rank correlation per agent on train and test\n"
                        "red rows: agreed on train, not at test (the signature of pseudo-alignment)" + shown)
        figure.legend(handles=_legend(result, statistics), loc="outside lower center", ncols=3)
        return to_png(figure)
