"""Learning inside a trial: return by episode index, and the share of the gap to an oracle that
an agent closes within the trial (evidence of learned optimisation, or its absence)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesascope.records.intervals import bootstrap_mean_ci


@dataclass(frozen=True)
class InTrialCurve:
    """Mean return (over agents of their mean over levels) at each episode index of the trial,
    with bootstrap intervals over agents; the oracle's mean; the gap closed in context per agent
    and its mean with a bootstrap interval over agents."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    oracle: float
    closed: np.ndarray
    closed_mean: float
    closed_low: float
    closed_high: float


def in_trial_curve(returns: np.ndarray, oracle: np.ndarray, rng: np.random.Generator, resamples: int = 1000) -> InTrialCurve:
    """From intended returns (A, E, N) of A agents over trials of E episodes on N levels and the
    oracle's return per level (N,): the curve and the share of the gap closed,
    (R_last − R_first) / (R_oracle − R_first) per agent (NaN where the agent starts at the oracle)."""
    per_agent = returns.mean(-1)  # (A, E)
    stats = np.array([bootstrap_mean_ci(per_agent[:, e], rng, resamples) for e in range(per_agent.shape[1])])
    best = float(np.mean(oracle))
    gap = best - per_agent[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        closed = np.where(gap > 1e-9, (per_agent[:, -1] - per_agent[:, 0]) / np.where(gap > 1e-9, gap, 1.0), np.nan)
    mean, low, high = bootstrap_mean_ci(closed, rng, resamples)
    return InTrialCurve(stats[:, 0], stats[:, 1], stats[:, 2], best, closed, mean, low, high)
