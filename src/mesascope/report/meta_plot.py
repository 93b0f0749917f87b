"""The in-trial learning curve of a recurrent run: normalised return by episode index of the
trial, one panel per evaluated distribution, one line per objective with its 95% interval."""

from __future__ import annotations

import numpy as np

from mesascope.diagnose.in_context import InTrialCurve
from mesascope.records.results import ExperimentResult
from mesascope.report import figure


def in_trial_figure(result: ExperimentResult, curves: dict[str, dict[str, InTrialCurve]]) -> bytes:
    """PNG of `curves` (distribution -> objective -> curve of normalised returns, oracle 1)."""
    with figure.plot_style():
        if not curves:
            return figure.placeholder("In-trial learning", "no trial records stored for this run")
        fig = figure.new_figure(4.2 * len(curves) + 0.6, 3.4)
        axes = fig.subplots(1, len(curves), squeeze=False)[0]
        for ax, (distribution, by_objective) in zip(axes, curves.items()):
            values = []
            for name, curve in by_objective.items():
                episodes = np.arange(1, len(curve.mean) + 1)
                colour = figure.objective_colour(result, name)
                ax.plot(episodes, curve.mean, "o-", color=colour, lw=2, label=figure.objective_label(result, name))
                ax.fill_between(episodes, curve.low, curve.high, color=colour, alpha=0.2, lw=0)
                values.append(np.concatenate([curve.low, curve.high]))
            ax.axhline(1.0, color="#333333", ls="--", lw=1, label="oracle planner")
            ax.axhline(0.0, color=figure.RANDOM_COLOUR, ls=":", lw=1, label="random policy")
            ax.set_xticks(episodes)
            ax.set_ylim(*figure.value_limits(np.concatenate(values)))
            ax.set_xlabel("episode of the trial")
            ax.set_ylabel("normalised return")
            ax.set_title(distribution)
        axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5))  # outside: curves overlap
        return figure.to_png(fig)
