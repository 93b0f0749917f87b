"""Rank correlation: average ranks, Spearman's ρ, and a vectorised percentile bootstrap of ρ.

Spearman's ρ is the Pearson correlation of the average ranks (ties share the mean of the ranks
they span), over the pairs where both values are finite. It is 1 for any strictly increasing
relation, however non-linear, and undefined (NaN) when either series is constant, because a
constant series has no order to agree or disagree with.

The bootstrap resamples pairs with replacement (optionally within strata, e.g. within each
agent when episodes of several agents are pooled) and takes percentile bounds over the
resamples whose ρ is defined; resamples in which a series happens to be constant are dropped.
"""

from __future__ import annotations

import numpy as np

_BLOCK_ELEMENTS = 2_000_000
"""Resamples are processed in blocks of at most this many (resample, pair) cells, bounding memory."""


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of `values`, ties given the mean of the ranks they span."""
    values = np.asarray(values, float)
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(first + (counts - 1) / 2.0, counts)
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of the pairs where both are finite; NaN if either is constant."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    rx, ry = average_ranks(x[keep]), average_ranks(y[keep])
    if rx.size < 2 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _row_average_ranks(codes: np.ndarray, levels: int) -> np.ndarray:
    """Average ranks within each row of (R, n) integer codes in [0, levels) (codes keep the
    order of the values they stand for)."""
    rows, _ = codes.shape
    flat = (np.arange(rows)[:, None] * levels + codes).ravel()
    counts = np.bincount(flat, minlength=rows * levels).reshape(rows, levels)
    below = np.cumsum(counts, 1) - counts
    return np.take_along_axis(below, codes, 1) + (np.take_along_axis(counts, codes, 1) - 1) / 2.0


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of two (R, n) arrays; NaN where a row is constant."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    spread = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, (a * b).sum(1) / np.where(spread > 0, spread, 1.0), np.nan)


def _resample_indices(strata: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, n) indices drawn with replacement within each stratum (stratum sizes kept)."""
    blocks = []
    for label in np.unique(strata):
        members = np.flatnonzero(strata == label)
        blocks.append(members[rng.integers(0, members.size, (count, members.size))])
    return np.concatenate(blocks, axis=1)


def bootstrap_spearman(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    resamples: int = 1000,
    confidence: float = 0.95,
    strata: np.ndarray | None = None,
) -> tuple[float, float, float, int]:
    """(ρ, low, high, defined): Spearman's ρ of the finite pairs, its percentile bootstrap
    interval over pairs (within `strata` when given), and how many resamples had a defined ρ.
    Bounds are NaN when no resample did (e.g. a constant series)."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    strata = np.zeros(x.size, int) if strata is None else np.asarray(strata).ravel()
    if not x.shape == y.shape == strata.shape:
        raise ValueError(f"x, y and strata must have the same length, got {x.size}, {y.size}, {strata.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, strata = x[keep], y[keep], strata[keep]
    rho = spearman(x, y)
    if not np.isfinite(rho):
        return rho, float("nan"), float("nan"), 0
    _, x_codes = np.unique(x, return_inverse=True)
    _, y_codes = np.unique(y, return_inverse=True)
    block = max(1, _BLOCK_ELEMENTS // x.size)
    draws = []
    for start in range(0, resamples, block):
        index = _resample_indices(strata, min(block, resamples - start), rng)
        rx = _row_average_ranks(x_codes[index], x.size)
        ry = _row_average_ranks(y_codes[index], y.size)
        draws.append(_row_pearson(rx, ry))
    values = np.concatenate(draws)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return rho, float("nan"), float("nan"), 0
    tail = (1 - confidence) / 2
    return rho, float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail)), int(values.size)
