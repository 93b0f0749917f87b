"""Plots of decision influence (`mesascope.diagnose.influence`), each `ExperimentResult -> PNG`.

Three views of `ExperimentResult.influence`: the share of states whose greedy action each
object kind moves, against training steps; where on the display level it does so; and the
policy's vector field there. Style, canvas and placeholder come from `report.plots`.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib
import numpy as np
from matplotlib.axes import Axes

from mesascope.diagnose.influence import expected_displacement
from mesascope.records.results import ExperimentResult, InfluenceRecord
from mesascope.report import summary
from mesascope.report.figure import new_figure, placeholder, to_png, plot_style

NO_INFLUENCE = "no decision influence was recorded for this run\n(`mesascope influence RUN` computes it from its checkpoints)"
KIND_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def kind_colour(record: InfluenceRecord, kind: str) -> str:
    """A fixed colour per object kind (by its position among the record's kinds)."""
    return KIND_PALETTE[record.kinds.index(kind) % len(KIND_PALETTE)]


def _shift_label(result: ExperimentResult, value: float) -> str:
    return f"{result.shift_name} = {summary.format_shift(value)}"


def _draw_shares(ax: Axes, result: ExperimentResult, value: float, stats: np.ndarray, intervention: int) -> None:
    """One panel: per kind, thin lines per agent, the mean (thick) and its interval (band)."""
    record = result.influence
    steps = np.asarray(record.steps, float)
    members = np.flatnonzero(summary.agent_shifts(result) == value)
    for k, kind in enumerate(record.kinds):
        colour = kind_colour(record, kind)
        for a in members:
            ax.plot(steps, record.share[a, :, k, intervention], color=colour, lw=0.7, alpha=0.3)
        mean, low, high = stats[:, k, intervention].T
        never = record.pairs[k] == 0
        ax.fill_between(steps, low, high, color=colour, alpha=0.18, lw=0)
        ax.plot(steps, mean, color=colour, lw=2.4, marker="o", label=f"{kind} (never present)" if never else kind)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("environment steps per agent")
    if intervention == 0:
        ax.set_ylabel("share of states whose\ngreedy action changes")
    ax.set_title(f"{record.interventions[intervention]} — {_shift_label(result, value)}")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))


def influence_over_training(result: ExperimentResult) -> bytes:
    """Influence share per object kind against training steps, one panel per intervention and
    training shift value (band: 95% interval over agents, or over levels for a lone agent)."""
    with plot_style():
        record = result.influence
        if record is None or not result.agents:
            return placeholder("Decision influence", NO_INFLUENCE)
        groups = summary.influence_by_shift(result)
        figure = new_figure(5.2 * len(record.interventions), 3.6 * len(groups) + 0.8)
        axes = figure.subplots(len(groups), len(record.interventions), squeeze=False, sharey=True)
        for row, (value, stats) in enumerate(groups.items()):
            for column in range(len(record.interventions)):
                _draw_shares(axes[row, column], result, value, stats, column)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=min(6, len(labels)), title="object kind")
        figure.suptitle(f"Which objects move the greedy action? ({record.levels} {record.distribution} levels, every floor cell)")
        return to_png(figure)


def _background(ax: Axes, record: InfluenceRecord) -> None:
    """The rendered display level, stretched so that cell (r, c) is centred on (c, r)."""
    height, width = record.cell_maps.shape[-2:]
    ax.imshow(record.picture, extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _groups(result: ExperimentResult) -> list[tuple[float, np.ndarray]]:
    """(shift value, indices of its agents), ascending."""
    shifts = summary.agent_shifts(result)
    return [(value, np.flatnonzero(shifts == value)) for value in summary.shift_values(result)]


def influence_maps(result: ExperimentResult) -> bytes:
    """Per training shift value, kind and intervention: the share of its agents whose greedy
    action changes at each cell of the display level, at the final checkpoint."""
    with plot_style():
        record = result.influence
        if record is None or not result.agents:
            return placeholder("Influence maps", NO_INFLUENCE)
        panels = [(k, i) for k in range(len(record.kinds)) for i in range(len(record.interventions))]
        groups = _groups(result)
        figure = new_figure(2.9 * len(panels) + 1.0, 3.0 * len(groups) + 0.6)
        axes = figure.subplots(len(groups), len(panels), squeeze=False)
        image = None
        for row, (value, members) in enumerate(groups):
            for column, (k, i) in enumerate(panels):
                ax = axes[row, column]
                _background(ax, record)
                values = record.cell_maps[members, -1, k, i]
                shown = np.full(values.shape[1:], np.nan)
                finite = np.isfinite(values).any(0)
                shown[finite] = np.nanmean(values[:, finite], axis=0)
                image = ax.imshow(shown, cmap="inferno", vmin=0, vmax=1, alpha=0.75, interpolation="nearest")
                ax.set_title(f"{record.kinds[k]}: {record.interventions[i]}", fontsize=10)
                if column == 0:
                    ax.set_ylabel(_shift_label(result, value))
        figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="share of agents whose action changes")
        figure.suptitle(f"Where each object moves the greedy action (display level, {int(record.steps[-1]):,} steps)")
        return to_png(figure)


def policy_vector_field(result: ExperimentResult) -> bytes:
    """The first agent of each training shift value: its expected step from every floor cell
    of the display level at the final checkpoint, coloured by its most likely action's probability."""
    with plot_style():
        record = result.influence
        if record is None or not result.agents:
            return placeholder("Policy vector field", NO_INFLUENCE)
        groups = _groups(result)
        figure = new_figure(4.2 * len(groups) + 1.0, 4.6)
        axes = figure.subplots(1, len(groups), squeeze=False)[0]
        arrows = None
        for ax, (value, members) in zip(axes, groups):
            agent = members[0]
            probs = record.action_probs[agent, -1]
            step = expected_displacement(probs, record.action_names)
            rows, cols = np.nonzero(np.isfinite(probs).all(-1))
            _background(ax, record)
            arrows = ax.quiver(cols, rows, step[rows, cols, 1], step[rows, cols, 0], probs[rows, cols].max(-1),
                               cmap="viridis", norm=matplotlib.colors.Normalize(0, 1), angles="xy", scale_units="xy",
                               scale=1 / 0.45, width=0.012)
            ax.set_title(f"agent {result.agents[agent].agent} ({_shift_label(result, value)})", fontsize=10)
        figure.colorbar(arrows, ax=list(axes), shrink=0.8, label="probability of the most likely action")
        figure.suptitle(f"Policy vector field on the display level ({int(record.steps[-1]):,} steps)")
        return to_png(figure)


INFLUENCE_PLOTS: dict[str, Callable[[ExperimentResult], bytes]] = {
    "influence_over_training": influence_over_training,
    "influence_maps": influence_maps,
    "policy_vector_field": policy_vector_field,
}
"""The decision-influence plots, in the order `plots.PLOTS` shows them."""
