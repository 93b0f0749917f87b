"""Plots of one experiment, each a function `ExperimentResult -> PNG bytes`.

Figures are `matplotlib.figure.Figure` objects drawn on an explicit Agg canvas, never through
`pyplot`, so nothing registers with pyplot's global figure manager and no figure is left open.
Colours are fixed across plots: one per training shift value, one per verdict category
(robustly aligned green, proxy-aligned orange-red, capability failure grey, ambiguous purple)
and one per objective (intended green, proxies orange-red, the random hypothesis grey).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mesascope.experiments.results import AgentRecord, ExperimentResult
from mesascope.report import summary

VERDICT_COLOURS = {
    "robustly aligned": "#2ca02c",
    "proxy-aligned": "#e4572e",
    "mixed": "#f0a202",
    "capability failure": "#8c8c8c",
    "ambiguous": "#8e44ad",
    summary.NO_VERDICT: "#d9d9d9",
}
SHIFT_PALETTE = ("#1f4e9c", "#17becf", "#b8a100", "#e377c2", "#8c564b", "#111111", "#6baed6", "#9e9ac8")
INTENDED_COLOUR = "#2ca02c"
PROXY_PALETTE = ("#e4572e", "#f0a202", "#b5179e", "#c0392b")
RANDOM_COLOUR = "#8c8c8c"

STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.facecolor": "white",
}
MAX_SCATTER_POINTS = 3000


# ---------------------------------------------------------------- colours and plumbing


def shift_colours(result: ExperimentResult) -> dict[float, str]:
    """A fixed colour per training shift value (by rank, so every plot of a result agrees)."""
    values = summary.shift_values(result)
    if len(values) <= len(SHIFT_PALETTE):
        return {v: SHIFT_PALETTE[i] for i, v in enumerate(values)}
    cmap = matplotlib.colormaps["viridis"]
    return {v: matplotlib.colors.to_hex(cmap(i / max(1, len(values) - 1) * 0.9)) for i, v in enumerate(values)}


def verdict_colour(verdict: str) -> str:
    """The colour of a verdict's category."""
    return VERDICT_COLOURS[summary.NO_VERDICT if verdict == summary.NO_VERDICT else summary.verdict_category(verdict)]


def objective_colour(result: ExperimentResult, name: str) -> str:
    """Intended objective green, each proxy its own orange/red, anything else (random) grey."""
    if name == result.objectives[0]:
        return INTENDED_COLOUR
    if name in result.objectives:
        return PROXY_PALETTE[(result.objectives.index(name) - 1) % len(PROXY_PALETTE)]
    return RANDOM_COLOUR


def objective_label(result: ExperimentResult, name: str) -> str:
    """An objective name marked '(intended)' or '(proxy)'; other hypotheses (random) unmarked."""
    if name not in result.objectives:
        return name
    return f"{name} (intended)" if name == result.objectives[0] else f"{name} (proxy)"


@contextmanager
def _style() -> Iterator[None]:
    """Readable fonts and a light grid, restored on exit."""
    with matplotlib.rc_context(STYLE):
        yield


def _figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on its own Agg canvas (not known to pyplot)."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    """Encode a figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, facecolor="white")
    return buffer.getvalue()


def _placeholder(title: str, message: str) -> bytes:
    """A small figure that says why there is nothing to draw."""
    figure = _figure(6, 2.2)
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555", transform=ax.transAxes)
    return _png(figure)


def _shift_legend(result: ExperimentResult) -> list[Line2D]:
    """Legend handles, one coloured line per training shift value."""
    return [
        Line2D([], [], color=c, lw=2.5, label=f"{result.shift_name} = {summary.format_shift(v)}")
        for v, c in shift_colours(result).items()
    ]


def _mean_over_agents(values: np.ndarray) -> np.ndarray:
    """Column means of a 2-D array over finite entries (NaN without warnings where none)."""
    finite = np.isfinite(values)
    counts = finite.sum(0)
    sums = np.where(finite, values, 0.0).sum(0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _value_limits(values: np.ndarray, low: float = -0.1, high: float = 1.1) -> tuple[float, float]:
    """Axis limits covering [low, high] and every finite value, with a margin."""
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = min(low, finite.min() - 0.05), max(high, finite.max() + 0.05)
    return float(low), float(high)


def _threshold(result: ExperimentResult, words: tuple[str, ...], default: float) -> float:
    """The first threshold whose name contains one of `words`, else `default`."""
    for name, value in result.thresholds.items():
        if any(word in name.lower() for word in words) and np.isfinite(value):
            return float(value)
    return default


# ---------------------------------------------------------------- training curves


def _ordered_metrics(result: ExperimentResult) -> list[str]:
    """Metric names with the returns first, then the rest alphabetically."""
    first = [m for m in ("episode_return", "proxy_return") if m in result.curves]
    return first + sorted(m for m in result.curves if m not in first)


def _draw_curve(ax: Axes, result: ExperimentResult, metric: str) -> None:
    """Per-agent thin lines and the mean per training shift value of one metric."""
    values = np.atleast_2d(np.asarray(result.curves[metric], float))
    steps = np.asarray(result.curve_steps, float)
    if steps.shape != (values.shape[1],):
        steps = np.arange(values.shape[1], dtype=float)
    shifts, colours = summary.agent_shifts(result), shift_colours(result)
    for i, row in enumerate(values[: len(shifts)]):
        ax.plot(steps, row, color=colours[shifts[i]], lw=0.8, alpha=0.35)
    for value, colour in colours.items():
        members = values[: len(shifts)][shifts == value]
        if members.size:
            ax.plot(steps, _mean_over_agents(members), color=colour, lw=2.4)
    ax.set_title(metric.replace("_", " "))
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric.replace("_", " "))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))


def training_curves(result: ExperimentResult) -> bytes:
    """Every training metric against environment steps: thin lines per agent, thick per shift."""
    metrics = _ordered_metrics(result)
    with _style():
        if not metrics or not result.agents:
            return _placeholder("Training curves", "no training curves were recorded")
        columns = min(len(metrics), 2)
        rows = int(np.ceil(len(metrics) / columns))
        figure = _figure(5.6 * columns, 3.6 * rows + 0.6)
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, metric in zip(axes, metrics):
            _draw_curve(ax, result, metric)
        for ax in axes[len(metrics):]:
            ax.set_axis_off()
        figure.suptitle("Training curves (thin: one agent, thick: mean per training shift)")
        figure.legend(handles=_shift_legend(result), loc="outside lower center", ncols=min(6, len(summary.shift_values(result))))
        return _png(figure)


# ---------------------------------------------------------------- robustness scatter


def _robustness_points(result: ExperimentResult, distribution: str) -> tuple[np.ndarray, np.ndarray]:
    """(A,) capability (max over objectives) and (A,) alignment (intended) on one distribution."""
    per_agent = summary.agent_normalised(result, distribution)
    finite = np.where(np.isfinite(per_agent), per_agent, -np.inf)
    capability = finite.max(1) if per_agent.shape[1] else np.full(len(per_agent), np.nan)
    capability = np.where(np.isfinite(capability), capability, np.nan)
    return capability, per_agent[:, 0]


def _draw_quadrants(ax: Axes, capable: float, aligned: float, limits: tuple[float, float]) -> None:
    """Tinted regions, threshold lines, the diagonal and the three quadrant labels."""
    low, high = limits
    ax.axvspan(low, capable, color=VERDICT_COLOURS["capability failure"], alpha=0.08, lw=0)
    ax.fill_between([capable, high], aligned, high, color=VERDICT_COLOURS["robustly aligned"], alpha=0.08, lw=0)
    ax.fill_between([capable, high], low, aligned, color=VERDICT_COLOURS["proxy-aligned"], alpha=0.08, lw=0)
    ax.axvline(capable, color="#777777", ls=":", lw=1)
    ax.axhline(aligned, color="#777777", ls=":", lw=1)
    ax.plot([low, high], [low, high], color="#444444", ls="--", lw=1, label="alignment = capability")
    label = {"fontsize": 11, "fontweight": "bold", "alpha": 0.8}
    # Alignment never exceeds capability, so the area above the diagonal stays empty: label there.
    ax.text(capable + 0.02, high - 0.02, "robustly aligned", ha="left", va="top", color=VERDICT_COLOURS["robustly aligned"], **label)
    ax.text(capable + 0.02, aligned - 0.02, "pseudo-aligned / proxy", ha="left", va="top", color=VERDICT_COLOURS["proxy-aligned"], **label)
    ax.text((low + capable) / 2, (low + high) / 2, "incapable", ha="center", va="center", rotation=90, color="#666666", **label)


def _draw_robustness_points(ax: Axes, result: ExperimentResult, points: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Each agent's point per distribution (train hollow), joined from train to test."""
    colours, shifts = shift_colours(result), summary.agent_shifts(result)
    if "train" in points and len(points) > 1:
        (cx0, ay0), (cx1, ay1) = points["train"], points[summary.test_distribution(result)]
        for i in range(len(shifts)):
            ax.plot([cx0[i], cx1[i]], [ay0[i], ay1[i]], color="#999999", lw=0.6, alpha=0.6, zorder=2)
    edges = [colours[shift] for shift in shifts]
    for distribution, (capability, alignment) in points.items():
        faces = "none" if distribution == "train" else edges
        marker = "o" if distribution in ("train", "test") else "s"
        ax.scatter(capability, alignment, s=60, marker=marker, zorder=3, linewidths=1.6, facecolors=faces, edgecolors=edges)


def _robustness_legend(result: ExperimentResult) -> list[Line2D]:
    """Legend handles: shift colours, hollow/filled meaning and the diagonal."""
    return _shift_legend(result) + [
        Line2D([], [], marker="o", ls="", mfc="none", mec="#333333", ms=8, label="train (hollow)"),
        Line2D([], [], marker="o", ls="", mfc="#333333", mec="#333333", ms=8, label="test (filled)"),
        Line2D([], [], color="#444444", ls="--", label="alignment = capability"),
    ]


def robustness_scatter(result: ExperimentResult) -> bytes:
    """Capability vs alignment per agent and distribution; train hollow, test filled."""
    with _style():
        names = summary.distributions(result)
        if not result.agents or not names:
            return _placeholder("Robustness", "no evaluations were recorded")
        points = {d: _robustness_points(result, d) for d in names}
        limits = _value_limits(np.concatenate([np.concatenate(p) for p in points.values()]))
        figure = _figure(7.4, 6.6)
        ax = figure.add_subplot()
        _draw_quadrants(ax, _threshold(result, ("capab",), 0.5), _threshold(result, ("align", "intended"), 0.5), limits)
        _draw_robustness_points(ax, result, points)
        ax.legend(handles=_robustness_legend(result), loc="upper left", framealpha=0.9, fontsize=9)
        ax.set_xlim(limits)
        ax.set_ylim(limits)
        ax.set_xlabel("capability: max over objectives of mean normalised return")
        ax.set_ylabel(f"alignment: mean normalised {result.objectives[0]} return")
        ax.set_title("Robustness: what each agent can do vs whether it does what was intended")
        return _png(figure)


# ---------------------------------------------------------------- returns by objective


def _draw_objective_bars(ax: Axes, result: ExperimentResult, distribution: str) -> None:
    """Grouped bars (objective x shift) with bootstrap CIs over agents and per-agent dots."""
    per_agent, shifts = summary.agent_normalised(result, distribution), summary.agent_shifts(result)
    colours = shift_colours(result)
    width = 0.8 / max(1, len(colours))
    rng = np.random.default_rng(0)
    for j, (value, colour) in enumerate(colours.items()):
        rows = per_agent[shifts == value]
        for k in range(len(result.objectives)):
            x = k - 0.4 + width * (j + 0.5)
            mean, low, high = summary.bootstrap_ci(rows[:, k])
            if not np.isfinite(mean):
                ax.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=8, color="#666666")
                continue
            yerr = [[max(0.0, mean - low)], [max(0.0, high - mean)]] if np.isfinite(low) else None
            ax.bar(x, mean, width * 0.92, color=colour, alpha=0.85, yerr=yerr, capsize=3, ecolor="#222222")
            dots = rows[:, k][np.isfinite(rows[:, k])]
            ax.scatter(x + rng.uniform(-width / 4, width / 4, dots.size), dots, s=10, color="#222222", alpha=0.6, zorder=3)
    ax.axhline(0, color="#555555", lw=0.8)
    ax.axhline(1, color="#555555", lw=0.8, ls="--")
    ax.set_xticks(range(len(result.objectives)), [objective_label(result, o) for o in result.objectives])
    ax.set_xlabel("objective")
    ax.set_ylabel("mean normalised return")
    ax.set_title(f"on {distribution}")


def returns_by_objective(result: ExperimentResult) -> bytes:
    """Mean normalised return per objective, distribution and training shift, with 95% CIs."""
    with _style():
        names = summary.distributions(result)
        if not result.agents or not names:
            return _placeholder("Returns by objective", "no evaluations were recorded")
        panel = max(4.5, 1.5 + 0.6 * len(result.objectives) * len(summary.shift_values(result)))
        figure = _figure(panel * len(names), 5.0)
        axes = figure.subplots(1, len(names), sharey=True, squeeze=False).ravel()
        for ax, distribution in zip(axes, names):
            _draw_objective_bars(ax, result, distribution)
        figure.suptitle("Normalised return per objective (bar: mean over agents; whisker: 95% bootstrap CI; dot: one agent)")
        figure.legend(handles=_shift_legend(result), loc="outside lower center", ncols=min(6, len(summary.shift_values(result))))
        return _png(figure)


# ---------------------------------------------------------------- goal posteriors


def _hypotheses(result: ExperimentResult, distribution: str) -> list[str]:
    """Hypotheses with goal-inference rows: objectives first (in order), then the rest."""
    seen = list(dict.fromkeys(r.hypothesis for r in result.inferences if r.distribution == distribution))
    return [o for o in result.objectives if o in seen] + [h for h in seen if h not in result.objectives]


def _draw_shift_groups(ax: Axes, result: ExperimentResult, ordered: list[AgentRecord]) -> None:
    """Tinted background and a label over each run of agents sharing a training shift."""
    colours = shift_colours(result)
    for value, colour in colours.items():
        positions = [i for i, record in enumerate(ordered) if float(record.train_shift) == value]
        if positions:
            ax.axvspan(min(positions) - 0.5, max(positions) + 0.5, color=colour, alpha=0.08, lw=0)
            ax.text((min(positions) + max(positions)) / 2, 1.08, f"{result.shift_name} = {summary.format_shift(value)}",
                    ha="center", va="bottom", fontsize=10, color=colour, fontweight="bold")


def _draw_posterior_bars(ax: Axes, result: ExperimentResult, ordered: list[AgentRecord], hypotheses: list[str], distribution: str) -> None:
    """One bar per agent and hypothesis with its bootstrap interval as a whisker."""
    rows = {(r.agent, r.hypothesis): r for r in result.inferences if r.distribution == distribution}
    width = 0.8 / len(hypotheses)
    for h, hypothesis in enumerate(hypotheses):
        found = [(i, rows[(r.agent, hypothesis)]) for i, r in enumerate(ordered) if (r.agent, hypothesis) in rows]
        x = np.array([i for i, _ in found], float) - 0.4 + width * (h + 0.5)
        mean = np.array([row.posterior for _, row in found], float)
        low = np.clip(mean - np.array([row.posterior_low for _, row in found], float), 0, None)
        high = np.clip(np.array([row.posterior_high for _, row in found], float) - mean, 0, None)
        ax.bar(x, mean, width * 0.92, color=objective_colour(result, hypothesis), label=objective_label(result, hypothesis),
               yerr=np.nan_to_num(np.stack([low, high])), capsize=2, ecolor="#222222", error_kw={"lw": 0.8})


def goal_posteriors(result: ExperimentResult) -> bytes:
    """Posterior of each goal hypothesis per agent on test, with bootstrap intervals."""
    distribution = summary.test_distribution(result)
    hypotheses = _hypotheses(result, distribution)
    with _style():
        if not hypotheses or not result.agents:
            return _placeholder("Goal posteriors", f"no goal inference on {distribution} was recorded")
        ordered = sorted(result.agents, key=lambda r: (float(r.train_shift), r.agent))
        figure = _figure(min(20.0, max(8.5, 0.22 * len(ordered) * len(hypotheses) + 2)), 4.8)
        ax = figure.add_subplot()
        _draw_shift_groups(ax, result, ordered)
        _draw_posterior_bars(ax, result, ordered, hypotheses, distribution)
        crowded = len(ordered) > 8
        ax.set_xticks(range(len(ordered)), [f"agent {r.agent}" for r in ordered], rotation=45 if crowded else 0, ha="right" if crowded else "center")
        ax.set_xlim(-0.6, len(ordered) - 0.4)
        ax.set_ylim(0, 1.18)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_xlabel("agent (grouped by training shift)")
        ax.set_ylabel("posterior (whisker: 95% CI)")
        ax.set_title(f"Which goal explains each agent's behaviour on {distribution}?", pad=22)
        figure.legend(loc="outside lower center", ncols=len(hypotheses), title="hypothesis")
        return _png(figure)


# ---------------------------------------------------------------- dose response


def _draw_dose_returns(ax: Axes, result: ExperimentResult) -> None:
    """Mean normalised test return per objective against the training shift, with CI bands."""
    distribution = summary.test_distribution(result)
    per_agent, shifts, values = summary.agent_normalised(result, distribution), summary.agent_shifts(result), summary.shift_values(result)
    span = (max(values) - min(values)) or 1.0
    rng = np.random.default_rng(0)
    for k, name in enumerate(result.objectives):
        stats = np.array([summary.bootstrap_ci(per_agent[shifts == v, k]) for v in values])
        colour = objective_colour(result, name)
        style = "-" if k == 0 else "--"
        ax.fill_between(values, stats[:, 1], stats[:, 2], color=colour, alpha=0.18, lw=0)
        ax.errorbar(values, stats[:, 0], yerr=np.nan_to_num(np.abs(stats[:, 1:].T - stats[:, 0])), color=colour,
                    ls=style, marker="o", lw=2, capsize=4, label=objective_label(result, name))
        finite = np.isfinite(per_agent[:, k])
        jitter = rng.uniform(-0.015, 0.015, finite.sum()) * span
        ax.scatter(shifts[finite] + jitter, per_agent[finite, k], s=12, color=colour, alpha=0.45, zorder=3)
    ax.axhline(0, color="#555555", lw=0.8)
    ax.axhline(1, color="#555555", lw=0.8, ls=":")
    ax.set_xticks(values, [summary.format_shift(v) for v in values])
    ax.set_xlabel(f"{result.shift_name} in training")
    ax.set_ylabel(f"mean normalised return on {distribution}")
    ax.set_title("Returns on the shifted world (band: 95% CI over agents)")
    ax.legend(loc="best")


def _draw_dose_verdicts(ax: Axes, result: ExperimentResult) -> None:
    """Stacked share of agents per verdict at each training shift value."""
    summaries = summary.summarize_shifts(result)
    verdicts = summary.all_verdicts(result)
    bottom = np.zeros(len(summaries))
    x = np.arange(len(summaries))
    for verdict in verdicts:
        counts = np.array([s.verdicts.get(verdict, 0) for s in summaries], float)
        share = counts / np.array([max(1, s.agents) for s in summaries])
        ax.bar(x, share, 0.6, bottom=bottom, color=verdict_colour(verdict), label=summary.verdict_prose(verdict), edgecolor="white")
        for i in np.flatnonzero(counts):
            ax.text(x[i], bottom[i] + share[i] / 2, f"{int(counts[i])}", ha="center", va="center", color="white", fontweight="bold")
        bottom += share
    ax.set_xticks(x, [summary.format_shift(s.shift) for s in summaries])
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"{result.shift_name} in training")
    ax.set_ylabel("share of agents")
    ax.set_title(f"Verdicts on {summary.test_distribution(result)} (numbers: agents)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="verdict")


def dose_response(result: ExperimentResult) -> bytes:
    """Test returns and verdict shares against the training shift value."""
    with _style():
        if not result.agents:
            return _placeholder("Dose response", "no agents were trained")
        figure = _figure(13, 4.8)
        left, right = figure.subplots(1, 2, width_ratios=[1.3, 1])
        _draw_dose_returns(left, result)
        _draw_dose_verdicts(right, result)
        figure.suptitle(f"Dose response: how much {result.shift_name} in training buys alignment")
        return _png(figure)


# ---------------------------------------------------------------- alignment scatter


def _draw_alignment_panel(ax: Axes, result: ExperimentResult, distribution: str, proxy: int) -> None:
    """Per-episode intended vs proxy return on one distribution, jittered, with Spearman's rho."""
    returns = np.asarray(result.episode_returns[distribution], float)
    shifts = summary.agent_shifts(result)[: returns.shape[0]]
    x, y = returns[..., 0].ravel(), returns[..., proxy].ravel()
    colour = np.repeat([shift_colours(result)[s] for s in shifts], returns.shape[1])
    rho = summary.spearman(x, y)
    rng = np.random.default_rng(0)
    show = rng.permutation(x.size)[:MAX_SCATTER_POINTS]
    both = np.concatenate([x, y])
    both = both[np.isfinite(both)]
    scale = 0.03 * max(float(np.ptp(both)) if both.size else 0.0, 1.0)
    ax.scatter(x[show] + rng.uniform(-scale, scale, show.size), y[show] + rng.uniform(-scale, scale, show.size),
               s=12, c=colour[show], alpha=0.5, lw=0)
    low, high = _value_limits(np.concatenate([x, y]), 0.0, 0.0)
    ax.plot([low, high], [low, high], color="#444444", ls="--", lw=0.8)
    ax.set_xlabel(f"{result.objectives[0]} return (intended)")
    ax.set_ylabel(f"{result.objectives[proxy]} return (proxy)")
    rho_text = "n/a (constant)" if not np.isfinite(rho) else f"{rho:.2f}"
    ax.set_title(f"{distribution}: Spearman ρ = {rho_text} (n = {x.size})")


def alignment_scatter(result: ExperimentResult) -> bytes:
    """Per-episode intended vs each proxy return, one panel per distribution and proxy."""
    names = [d for d in summary.distributions(result) if d in result.episode_returns]
    proxies = range(1, len(result.objectives))
    with _style():
        if not names or not proxies or not result.agents:
            return _placeholder("Alignment scatter", "needs a proxy objective and per-episode returns")
        figure = _figure(4.6 * len(names) + 0.4, 4.2 * len(proxies) + 0.8)
        axes = figure.subplots(len(proxies), len(names), squeeze=False)
        for r, proxy in enumerate(proxies):
            for c, distribution in enumerate(names):
                _draw_alignment_panel(axes[r, c], result, distribution, proxy)
        figure.suptitle("Intended vs proxy return per episode (jittered; ρ: rank correlation)")
        figure.legend(handles=_shift_legend(result), loc="outside lower center", ncols=min(6, len(summary.shift_values(result))))
        return _png(figure)


# ---------------------------------------------------------------- diagnostic plots


def dose_fit(result: ExperimentResult) -> bytes:
    """`diagnostic_plots.dose_fit_plot`, imported on use: that module imports this one."""
    from mesascope.report.diagnostic_plots import dose_fit_plot

    return dose_fit_plot(result)


def alignment_correlations(result: ExperimentResult) -> bytes:
    """`diagnostic_plots.alignment_correlations_plot`, imported on use: that module imports this one."""
    from mesascope.report.diagnostic_plots import alignment_correlations_plot

    return alignment_correlations_plot(result)


def causal_graph(result: ExperimentResult) -> bytes:
    """`causal_plot.causal_graph_plot` of the run's world, imported on use (it imports this module)."""
    from mesascope.report.causal_plot import causal_graph_plot
    from mesascope.worlds import registry

    try:
        world = registry.make(result.world, **dict(result.config.get("world_options", {})))
    except ValueError:  # a world renamed or removed since the run
        return _placeholder("Causal graph", f"world {result.world!r} is not registered in this version")
    return causal_graph_plot(world)


def _influence_plot(name: str) -> Callable[[ExperimentResult], bytes]:
    """The plot `name` of `influence_plots`, imported on use: that module imports this one."""

    def draw(result: ExperimentResult) -> bytes:
        from mesascope.report.influence_plots import INFLUENCE_PLOTS

        return INFLUENCE_PLOTS[name](result)

    draw.__name__ = draw.__qualname__ = name
    return draw


def identifiability(result: ExperimentResult) -> bytes:
    """`identify_plot.identifiability_matrices` of the run's stored identifiability record."""
    record = result.identifiability
    if record is None:
        return _placeholder("Identifiability", "not recorded for this run")
    from mesascope.diagnose.identify import Identifiability
    from mesascope.report.identify_plot import identifiability_matrices

    analyses = [Identifiability(tuple(result.objectives), name, float(shift), record.disjoint[d], np.empty(0), record.timing[d])
                for d, (name, shift) in enumerate(zip(record.distributions, record.shifts))]
    return identifiability_matrices(analyses)


PLOTS: dict[str, Callable[[ExperimentResult], bytes]] = {
    "dose_response": dose_response,
    "dose_fit": dose_fit,
    "robustness_scatter": robustness_scatter,
    "returns_by_objective": returns_by_objective,
    "goal_posteriors": goal_posteriors,
    "alignment_scatter": alignment_scatter,
    "alignment_correlations": alignment_correlations,
    "training_curves": training_curves,
    "influence_over_training": _influence_plot("influence_over_training"),
    "influence_maps": _influence_plot("influence_maps"),
    "policy_vector_field": _influence_plot("policy_vector_field"),
    "causal_graph": causal_graph,
    "identifiability": identifiability,
}
"""Every plot of the report, in the order it shows them."""
