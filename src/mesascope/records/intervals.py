"""Intervals and how they are written: bootstrap means over agents or episodes, and the
'0.81 [0.70, 0.90]' form every table uses."""

from __future__ import annotations

import numpy as np


def bootstrap_mean_ci(values: np.ndarray, rng: np.random.Generator, resamples: int = 1000, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite entries of `values` and a percentile bootstrap interval (NaN if none;
    the interval NaN if only one: resampling one unit would give a zero-width interval that
    claims a certainty one unit cannot give)."""
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan"), float("nan"), float("nan")
    if finite.size == 1:
        return float(finite[0]), float("nan"), float("nan")
    means = rng.choice(finite, size=(resamples, finite.size), replace=True).mean(1)
    tail = (1 - confidence) / 2
    return float(finite.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def format_number(value: float, digits: int = 2) -> str:
    """A number with `digits` decimals, or an em dash when it is NaN."""
    return "—" if not np.isfinite(value) else f"{value:.{digits}f}"


def format_interval(mean: float, low: float, high: float, digits: int = 2) -> str:
    """'0.81 [0.70, 0.90]', '0.81 [no interval]' when the interval is undefined (one unit),
    or '—' when the mean is undefined."""
    if not np.isfinite(mean):
        return "—"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{format_number(mean, digits)} [no interval]"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def format_p_value(p: float, defined: bool = True) -> str:
    """A p-value with three decimals, '<0.001' below that, or an em dash when the test is
    undefined (`defined` False, e.g. Kendall's τ of a constant outcome) or p is NaN."""
    if not defined or not np.isfinite(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
