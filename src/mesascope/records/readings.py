"""Numbers read off a finished experiment's plain-data result: its agents' training shifts, its
distributions, per-agent normalised returns, verdicts by agent and verdict categories, and
bootstrap means over agents.

Diagnostics over stored results (dose response, alignment statistics, sweep verdicts) and the
report read them from here, so the two always agree on what a result says.
"""

from __future__ import annotations

import numpy as np

from mesascope.records.intervals import bootstrap_mean_ci
from mesascope.records.results import ExperimentResult, VerdictRow

VERDICT_CATEGORIES = ("robustly aligned", "proxy-aligned", "mixed", "capability failure", "ambiguous")
"""Canonical verdict categories, in the order tables and legends list them."""

NO_VERDICT = "no verdict"


def verdict_category(verdict: str) -> str:
    """Map a verdict string (any spelling: 'proxy_aligned', 'Proxy-aligned'…) to its category."""
    text = verdict.lower().replace("_", " ").replace("-", " ")
    if text.startswith("mixed"):
        return "mixed"
    if "robust" in text or text.strip() == "aligned":
        return "robustly aligned"
    if "proxy" in text or "pseudo" in text:
        return "proxy-aligned"
    if "capab" in text or "incapable" in text:
        return "capability failure"
    return "ambiguous"


def shift_values(result: ExperimentResult) -> list[float]:
    """The distinct training shift values of the population, ascending."""
    return sorted({float(record.train_shift) for record in result.agents})


def agent_shifts(result: ExperimentResult) -> np.ndarray:
    """(A,) training shift of each agent, in the order of `result.agents` (the array order)."""
    return np.array([float(record.train_shift) for record in result.agents], float)


def agent_dial(result: ExperimentResult, dial: str = "train_shift") -> np.ndarray:
    """(A,) each agent's value of `dial`: "train_shift", or a traced knob it recorded (e.g. "l2").
    KeyError naming the recorded knobs when an agent has no such value."""
    if dial in ("train_shift", result.shift_name):
        return agent_shifts(result)
    values = []
    for record in result.agents:
        if dial not in record.knobs:
            recorded = sorted(record.knobs) or ["none: the run predates recorded knobs"]
            raise KeyError(f"the agents of run {result.run_id} have no recorded value of {dial!r}; dials: train_shift, {', '.join(recorded)}")
        values.append(float(record.knobs[dial]))
    return np.array(values, float)


def distributions(result: ExperimentResult) -> list[str]:
    """Distributions with data, 'train' first and 'test' next, then the rest alphabetically."""
    names = set(result.episode_returns) | {row.distribution for row in result.evaluations}
    return sorted(names, key=lambda name: ({"train": 0, "test": 1}.get(name, 2), name))


def test_distribution(result: ExperimentResult) -> str:
    """The shifted distribution the verdicts are about: 'test' if present, else the last one."""
    names = distributions(result) or ["test"]
    return "test" if "test" in names else names[-1]


def agent_normalised(result: ExperimentResult, distribution: str) -> np.ndarray:
    """(A, K) mean normalised return per agent and objective on `distribution`.

    Taken from the evaluation rows; where a row is missing, the NaN-free mean of the
    per-episode normalised returns; NaN where neither exists.
    """
    index = {record.agent: i for i, record in enumerate(result.agents)}
    column = {name: k for k, name in enumerate(result.objectives)}
    out = np.full((len(result.agents), len(result.objectives)), np.nan)
    episodes = result.episode_normalised.get(distribution)
    if episodes is not None and episodes.size:
        finite = np.isfinite(episodes)
        counts = finite.sum(1)
        sums = np.where(finite, episodes, 0.0).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[: episodes.shape[0]] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    for row in result.evaluations:
        if row.distribution == distribution and row.agent in index and row.objective in column:
            out[index[row.agent], column[row.objective]] = row.mean_normalised
    return out


def bootstrap_ci(values: np.ndarray, resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean of the finite `values` and a percentile bootstrap interval over them (NaN if none),
    with its own seeded generator so every reading of a result gives the same interval."""
    return bootstrap_mean_ci(values, np.random.default_rng(seed), resamples, confidence)


def verdict_by_agent(result: ExperimentResult, distribution: str) -> dict[int, VerdictRow]:
    """The verdict row of each agent id on `distribution`."""
    return {row.agent: row for row in result.verdicts if row.distribution == distribution}


def varied_knobs(result: ExperimentResult) -> list[str]:
    """The knobs (besides the training shift) whose values differ between the run's agents, as
    in a grid of traced knobs; per-agent tables show them so agents are told apart."""
    names = sorted({name for record in result.agents for name in record.knobs} - {"train_shift"})
    return [name for name in names if len({record.knobs.get(name) for record in result.agents}) > 1]
