"""Returns per objective: exact baselines per level, normalisation, and bootstrap intervals."""

from __future__ import annotations

import jax
import numpy as np

from mesascope.records.results import EvaluationRow
from mesascope.records.intervals import bootstrap_mean_ci
from mesascope.worlds import planning
from mesascope.worlds.core import Level, World


def level_baselines(world: World, levels: Level) -> tuple[np.ndarray, np.ndarray]:
    """Exact optimal (G*) and uniform-random (G°) returns per level and objective, each (N, K)."""

    def one(level):
        view = planning.tabulate(world, level)
        return planning.optimal_returns(world, view), planning.random_returns(world, view)

    optimal, random = jax.jit(jax.vmap(one))(levels)
    return np.asarray(optimal), np.asarray(random)


def normalised(returns: np.ndarray, optimal: np.ndarray, random: np.ndarray, min_span: float = 1e-6) -> np.ndarray:
    """Ĝ = (G − G°) / (G* − G°); NaN where G* − G° is below `min_span` (undefined, reported)."""
    span = optimal - random
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span > min_span, (returns - random) / np.where(span > min_span, span, 1.0), np.nan)


def summarize(
    objectives: tuple[str, ...],
    returns: np.ndarray,
    optimal: np.ndarray,
    random: np.ndarray,
    rng: np.random.Generator,
    agent: int = 0,
    distribution: str = "",
) -> list[EvaluationRow]:
    """One evaluation row per objective from per-episode returns (N, K) and the level baselines."""
    norm = normalised(returns, optimal, random)
    out = []
    for k, name in enumerate(objectives):
        mean, low, high = bootstrap_mean_ci(returns[:, k], rng)
        nmean, nlow, nhigh = bootstrap_mean_ci(norm[:, k], rng)
        undefined = int(np.isnan(norm[:, k]).sum())
        out.append(EvaluationRow(agent, distribution, name, mean, low, high, nmean, nlow, nhigh, int(returns.shape[0]), undefined))
    return out
