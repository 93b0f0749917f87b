"""The report's meta-learning section: the union's composition, the agent family and trial
length, the predicate C(π, x) on every evaluated distribution (P(C) over agents with Wilson
intervals), computed from the stored per-episode normalised returns, and for recurrent runs the
in-trial learning curve from the stored trials (`diagnose.in_context`, as `mesascope meta`)."""

from __future__ import annotations

from typing import Any

import base64

import numpy as np

from mesascope.diagnose import in_context, predicates
from mesascope.records.intervals import format_interval
from mesascope.records.results import ExperimentResult
from mesascope.report.meta_plot import in_trial_figure
from mesascope.worlds import registry

THRESHOLD = 0.5
"""Normalised-return threshold the report's predicates read (`mesascope meta --threshold` varies it)."""
AGENT_SHARE = 0.5
"""An agent shows C when C holds on more than this share of its episodes."""
RESAMPLES = 500
"""Bootstrap resamples behind the section's intervals."""


def in_trial_curves(result: ExperimentResult, rng: np.random.Generator) -> dict[str, dict[str, in_context.InTrialCurve]]:
    """distribution -> objective -> the in-trial curve of normalised returns (the oracle at 1),
    from the stored trials, over the levels where that objective is defined (normalised
    returns are NaN only where the objective cannot be told from random on a level)."""
    trials = getattr(result, "trials", None)
    curves: dict[str, dict[str, in_context.InTrialCurve]] = {}
    for distribution, normalised in (trials.normalised.items() if trials else ()):
        curves[distribution] = {}
        for k, name in enumerate(result.objectives):
            values = np.asarray(normalised[..., k], float)  # (A, E, N)
            defined = np.isfinite(values).all((0, 1))
            if defined.any():
                curves[distribution][name] = in_context.in_trial_curve(values[:, :, defined], np.ones(int(defined.sum())), rng, RESAMPLES)
    return {d: c for d, c in curves.items() if c}


def curve_rows(curves: dict[str, dict[str, in_context.InTrialCurve]]) -> list[dict[str, Any]]:
    """Table rows of `in_trial_curves`: distribution, objective, each episode's mean with its
    interval, and the gap closed in context with its interval, formatted."""
    rows = []
    for distribution, by_objective in curves.items():
        for name, c in by_objective.items():
            rows.append({"distribution": distribution, "objective": name,
                         "episodes": [format_interval(m, lo, hi) for m, lo, hi in zip(c.mean, c.low, c.high)],
                         "closed": format_interval(c.closed_mean, c.closed_low, c.closed_high)})
    return rows


def meta_context(result: ExperimentResult) -> dict[str, Any] | None:
    """The section's content, or None for runs that are neither unions nor recurrent agents."""
    config = result.config
    agent, trial = config.get("agent", "ppo"), int(config.get("trial_episodes", 1))
    union = str(result.world).startswith("union")
    if not union and agent != "recurrent" and trial == 1:
        return None
    composition = ""
    if union:
        world = registry.make(result.world, **config.get("world_options", {}))
        composition = world.describe().split("## Composition", 1)[-1].strip()
    rng = np.random.default_rng(int(config.get("seed", 0)))
    rows = []
    shifts = np.array([record.train_shift for record in result.agents], float)
    for name in sorted(predicates.PREDICATES):
        for distribution, normalised in result.episode_normalised.items():
            for shift in np.unique(shifts):  # agents trained at different shifts are different populations
                r = predicates.evaluate(predicates.get(name), normalised[shifts == shift], THRESHOLD, AGENT_SHARE, rng, RESAMPLES)
                counted = int((r.defined > 0).sum())
                rows.append({"predicate": name, "distribution": distribution, "shift": f"{shift:g}", "agents": f"{int(r.shows.sum())}/{counted}",
                             "share": format_interval(r.share, r.share_low, r.share_high),
                             "rate": format_interval(r.mean_rate, r.mean_low, r.mean_high) if counted else "n/a"})
    curves = in_trial_curves(result, rng)
    figure = "data:image/png;base64," + base64.b64encode(in_trial_figure(result, curves)).decode("ascii") if curves else ""
    return {"agent": agent, "trial_episodes": trial, "composition": composition, "rows": rows, "threshold": THRESHOLD, "agent_share": AGENT_SHARE,
            "shift_name": result.shift_name,
            "descriptions": {name: p.description for name, p in predicates.PREDICATES.items()},
            "curve_rows": curve_rows(curves), "curve_figure": figure}
