"""Outcomes of a grid of agents: per cell (one combination of knob values), the share of agents in
each verdict category with a Wilson interval and the mean normalised returns with bootstrap
intervals over agents; per knob, a trend test and a logistic fit of P(proxy-aligned) against it.

A grid spans one or more experiments (one per static combination, e.g. per network width); each
agent's coordinates are the static values of its experiment plus its own traced knob values
(training shift, L2, …, recorded with the agent). Everything is read off stored verdicts and
evaluations on the test distribution, so re-diagnosing the stored agents changes these numbers
and retraining is never needed.

The per-knob tests pool every other axis: in a full factorial grid that is a test of the knob's
main effect (every value of the knob sees the same mix of the other knobs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from mesascope.diagnose.dose import DoseConfig, LogisticFit, fit_logistic
from mesascope.diagnose.stats import wilson_interval
from mesascope.diagnose.sweep_verdicts import Trend, trend_test
from mesascope.records import readings
from mesascope.records.results import ExperimentResult

OUTCOME = "proxy-aligned"
"""The category whose probability the per-knob tests and heatmaps are about."""


@dataclass(frozen=True)
class GridAgents:
    """One row per agent of the grid, on the test distribution.

    Attributes:
        coords: axis name -> (agents,) value of that axis for each agent (floats).
        category: (agents,) verdict category (`readings.VERDICT_CATEGORIES` or 'no verdict').
        best: (agents,) the objective goal inference prefers ('' without an inference).
        normalised: objective -> (agents,) mean normalised return.
    """

    coords: dict[str, np.ndarray]
    category: np.ndarray
    best: np.ndarray
    normalised: dict[str, np.ndarray]


@dataclass(frozen=True)
class CellOutcome:
    """The agents of one grid cell.

    Attributes:
        coords: axis name -> value.
        agents: agents in the cell (with a verdict).
        shares: category -> (share, low, high), Wilson 95% interval; proxy-aligned agents are
            also counted per proxy they pursue, as 'proxy-aligned: <objective>'.
        returns: objective -> (mean, low, high) of the agents' normalised returns, bootstrap 95%.
    """

    coords: dict[str, float]
    agents: int
    shares: dict[str, tuple[float, float, float]]
    returns: dict[str, tuple[float, float, float]]


@dataclass(frozen=True)
class KnobEffect:
    """How P(proxy-aligned) moves with one knob, every other axis pooled: Kendall's τ with
    one-sided permutation p-values, and a logistic fit (which may report that none fits)."""

    knob: str
    trend: Trend
    fit: LogisticFit


def grid_agents(results: list[ExperimentResult], static: list[dict[str, float]], axes: list[str]) -> GridAgents:
    """Gather the grid's agents: `static[i]` holds the static axis values of `results[i]`;
    `axes` names every axis (static or traced) whose coordinates to record."""
    if len(results) != len(static):
        raise ValueError(f"one set of static values per result needed: {len(results)} results, {len(static)} sets")
    objectives = results[0].objectives
    coords: dict[str, list[float]] = {axis: [] for axis in axes}
    category, best, normalised = [], [], {name: [] for name in objectives}
    for result, fixed in zip(results, static):
        distribution = readings.test_distribution(result)
        verdicts = readings.verdict_by_agent(result, distribution)
        per_agent = readings.agent_normalised(result, distribution)
        for i, record in enumerate(result.agents):
            for axis in axes:
                coords[axis].append(float(fixed[axis]) if axis in fixed else _traced(record, axis))
            row = verdicts.get(record.agent)
            category.append(readings.verdict_category(row.verdict) if row else readings.NO_VERDICT)
            best.append(str(row.evidence.get("best_objective", row.evidence.get("best", ""))) if row else "")
            for k, name in enumerate(objectives):
                normalised[name].append(per_agent[i, k])
    return GridAgents({a: np.asarray(v, float) for a, v in coords.items()}, np.asarray(category, object), np.asarray(best, object),
                      {n: np.asarray(v, float) for n, v in normalised.items()})


def _traced(record, axis: str) -> float:
    if axis in ("train_shift", "train_shifts"):
        return float(record.train_shift)
    if axis not in record.knobs:
        raise ValueError(f"agent {record.agent} has no recorded value of {axis!r} (recorded: {sorted(record.knobs)})")
    return float(record.knobs[axis])


def cell_outcomes(agents: GridAgents, objectives: tuple[str, ...] | list[str]) -> list[CellOutcome]:
    """One outcome per cell, cells in the order of the sorted axis values (first axis outermost)."""
    axes = list(agents.coords)
    judged = agents.category != readings.NO_VERDICT
    values = [np.unique(agents.coords[a]) for a in axes]
    proxies = list(objectives[1:])
    out = []
    for combo in itertools.product(*values):
        member = judged.copy()
        for axis, value in zip(axes, combo):
            member &= agents.coords[axis] == value
        n = int(member.sum())
        if n == 0:
            continue
        shares = {c: wilson_interval(int((agents.category[member] == c).sum()), n) for c in readings.VERDICT_CATEGORIES}
        for proxy in proxies:
            count = int(((agents.category == OUTCOME) & (agents.best == proxy) & member).sum())
            shares[f"{OUTCOME}: {proxy}"] = wilson_interval(count, n)
        returns = {name: readings.bootstrap_ci(agents.normalised[name][member]) for name in objectives}
        out.append(CellOutcome(dict(zip(axes, (float(v) for v in combo))), n, shares, returns))
    return out


def knob_effects(agents: GridAgents, config: DoseConfig = DoseConfig(), permutations: int = 2000) -> list[KnobEffect]:
    """For every axis with at least two values: the trend and the logistic fit of
    P(proxy-aligned) against it, over the agents with a verdict."""
    judged = agents.category != readings.NO_VERDICT
    outcome = (agents.category == OUTCOME)[judged].astype(float)
    effects = []
    for axis, values in agents.coords.items():
        dose = values[judged]
        if np.unique(dose).size < 2:
            continue
        effects.append(KnobEffect(axis, trend_test(dose, outcome, permutations), fit_logistic(dose, outcome.astype(bool), config)))
    return effects


def share_matrix(agents: GridAgents, rows: str, columns: str, category: str = OUTCOME) -> tuple[np.ndarray, ...]:
    """For a heatmap over two axes (every other axis pooled): row values, column values, and
    (rows, columns) arrays of the share of `category`, its Wilson interval's low and high, and
    the agents behind each cell."""
    judged = agents.category != readings.NO_VERDICT
    row_values, column_values = np.unique(agents.coords[rows]), np.unique(agents.coords[columns])
    share, low, high, count = (np.full((row_values.size, column_values.size), np.nan) for _ in range(4))
    for i, r in enumerate(row_values):
        for j, c in enumerate(column_values):
            member = judged & (agents.coords[rows] == r) & (agents.coords[columns] == c)
            n = int(member.sum())
            count[i, j] = n
            share[i, j], low[i, j], high[i, j] = wilson_interval(int((agents.category[member] == category).sum()), n)
    return row_values, column_values, share, low, high, count
