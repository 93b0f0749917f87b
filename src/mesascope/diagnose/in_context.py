"""Learning inside a trial: return by episode index, and the share of the gap to an oracle that
an agent closes within the trial (evidence of learned optimisation, or its absence).

Intervals resample agents and levels together (a two-way bootstrap): every agent plays the same
levels with the same random keys (common random numbers), so the agents' outcomes share the
levels' and the keys' noise, and an interval over agents alone would be too narrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class InTrialCurve:
    """Mean intended return at each episode index of the trial (over agents and levels) with
    95% two-way bootstrap intervals; the oracle's mean; the gap closed in context,
    (R_last − R_first) / (R_oracle − R_first) of the population means, with its interval; and the
    same share per agent (NaN where an agent starts at the oracle)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    oracle: float
    closed: np.ndarray
    closed_mean: float
    closed_low: float
    closed_high: float


def _closed(first: np.ndarray, last: np.ndarray, oracle: np.ndarray) -> np.ndarray:
    gap = oracle - first
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gap > 1e-9, (last - first) / np.where(gap > 1e-9, gap, 1.0), np.nan)


def in_trial_curve(returns: np.ndarray, oracle: np.ndarray, rng: np.random.Generator, resamples: int = 1000, confidence: float = 0.95) -> InTrialCurve:
    """From intended returns (A, E, N) of A agents over trials of E episodes on N levels and the
    oracle's return per level (N,): the curve and the gap closed (see `InTrialCurve`)."""
    agents, _, levels = returns.shape
    draws = []
    for _ in range(resamples):
        a, n = rng.integers(0, agents, agents), rng.integers(0, levels, levels)
        means = returns[a][:, :, n].mean((0, 2))
        draws.append(np.concatenate([means, _closed(means[:1], means[-1:], np.asarray(oracle[n].mean()))]))
    draws = np.array(draws)
    tail = (1 - confidence) / 2
    low, high = np.nanquantile(draws, tail, axis=0), np.nanquantile(draws, 1 - tail, axis=0)
    mean = returns.mean((0, 2))
    best = float(np.mean(oracle))
    per_agent = returns.mean(-1)
    closed = _closed(per_agent[:, 0], per_agent[:, -1], np.asarray(best))
    share = float(_closed(mean[:1], mean[-1:], np.asarray(best))[0])
    return InTrialCurve(mean, low[:-1], high[:-1], best, closed, share, float(low[-1]), float(high[-1]))
