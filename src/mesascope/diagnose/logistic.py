"""Numerics of binary logistic regression on one dose variable, vectorised over data sets.

Agents with a binary outcome are grouped by dose: `d_g` (distinct doses, ascending), `n_g`
agents and `k_g` successes at each. The model is P(outcome | d) = σ(a + b·d), and its
log-likelihood `Σ_g k_g log σ(a + b d_g) + (n_g − k_g) log σ(−a − b d_g)` is the same for the
grouped and the per-agent data, so the maximum-likelihood estimate is too.

`newton` maximises it by Newton's method (identical to IRLS for the canonical logit link) on
doses standardised to mean 0 and spread 1, with step halving so that the log-likelihood never
decreases, for many data sets at once (rows of `successes`), all sharing the same doses.

In one dimension the MLE is finite exactly when the data are not separated: it is infinite
(b → ±∞) when every dose with a failure lies at or below every dose with a success (or the
reverse), i.e. when a single threshold on the dose splits outcomes perfectly ('complete'), or
perfectly except at one shared dose ('quasi-complete'). `separation` detects this exactly,
so the fit never has to be caught diverging.
"""

from __future__ import annotations

import numpy as np

MAX_ITERATIONS = 100
"""Newton iterations; a non-separated fit converges in well under 30 from a = b = 0."""
MAX_HALVINGS = 40
STEP_TOLERANCE = 1e-10
"""Convergence: every coordinate of the Newton step (on standardised doses) below this."""


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^−x), without overflow for large |x|."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, float)))


def group(doses: np.ndarray, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct doses ascending, agents per dose, successes per dose) from per-agent data."""
    doses = np.asarray(doses, float).ravel()
    raw = np.asarray(outcomes).ravel()
    if doses.shape != raw.shape:
        raise ValueError(f"doses and outcomes must have one entry per agent, got {doses.size} and {raw.size}")
    if not np.isfinite(doses).all():
        raise ValueError("doses must be finite numbers (drop agents without a dose first)")
    if raw.dtype != bool and not np.isin(raw, (0, 1)).all():
        raise ValueError("outcomes must be binary: booleans or 0/1 per agent")
    levels, inverse = np.unique(doses, return_inverse=True)
    trials = np.bincount(inverse, minlength=levels.size).astype(float)
    successes = np.bincount(inverse, weights=raw.astype(float), minlength=levels.size)
    return levels, trials, successes


def separation(doses: np.ndarray, trials: np.ndarray, successes: np.ndarray) -> np.ndarray:
    """Per data set (rows): +1 if successes lie at or above every failure's dose, −1 if at or
    below, 0 if neither (the MLE is finite). Data with only one outcome count as separated."""
    successes = np.atleast_2d(successes)
    trials = np.broadcast_to(trials, successes.shape)
    has_success, has_failure = successes > 0, successes < trials
    lowest_success = np.where(has_success, doses, np.inf).min(-1)
    highest_success = np.where(has_success, doses, -np.inf).max(-1)
    lowest_failure = np.where(has_failure, doses, np.inf).min(-1)
    highest_failure = np.where(has_failure, doses, -np.inf).max(-1)
    return np.where(highest_failure <= lowest_success, 1, np.where(highest_success <= lowest_failure, -1, 0))


def log_likelihood(a: np.ndarray, b: np.ndarray, doses: np.ndarray, trials: np.ndarray, successes: np.ndarray) -> np.ndarray:
    """Binomial log-likelihood (without the binomial coefficients) of σ(a + b·d), per row."""
    eta = np.asarray(a, float)[..., None] + np.asarray(b, float)[..., None] * doses
    return (-successes * np.logaddexp(0.0, -eta) - (trials - successes) * np.logaddexp(0.0, eta)).sum(-1)


def saturated_log_likelihood(trials: np.ndarray, successes: np.ndarray) -> np.ndarray:
    """Log-likelihood of the saturated model (each dose its own share k/n), per row."""
    share = np.divide(successes, trials, out=np.zeros_like(successes, dtype=float), where=trials > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hits = np.where(successes > 0, successes * np.log(np.where(share > 0, share, 1.0)), 0.0)
        misses = np.where(trials - successes > 0, (trials - successes) * np.log(np.where(share < 1, 1 - share, 1.0)), 0.0)
    return (hits + misses).sum(-1)


def newton(doses: np.ndarray, trials: np.ndarray, successes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, converged) per row: the maximum-likelihood intercept and slope on the original
    dose scale. Rows must not be separated (see `separation`); such rows come back unconverged."""
    successes = np.atleast_2d(np.asarray(successes, float))
    trials = np.broadcast_to(np.asarray(trials, float), successes.shape)
    centre, spread = float(doses.mean()), float(doses.std()) or 1.0
    z = (doses - centre) / spread
    theta = np.zeros((successes.shape[0], 2))
    current = log_likelihood(theta[:, 0], theta[:, 1], z, trials, successes)
    converged = np.zeros(successes.shape[0], bool)
    for _ in range(MAX_ITERATIONS):
        eta = theta[:, :1] + theta[:, 1:] * z
        p = sigmoid(eta)
        residual, weight = successes - trials * p, trials * p * (1 - p)
        g0, g1 = residual.sum(1), (residual * z).sum(1)
        h00, h01, h11 = weight.sum(1), (weight * z).sum(1), (weight * z * z).sum(1)
        det = h00 * h11 - h01 * h01
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.stack([(h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det], 1)
        step = np.where(np.isfinite(step) & ~converged[:, None], step, 0.0)
        scale = np.ones(len(theta))
        for _ in range(MAX_HALVINGS):
            candidate = theta + scale[:, None] * step
            value = log_likelihood(candidate[:, 0], candidate[:, 1], z, trials, successes)
            worse = value < current - 1e-12 * (1 + np.abs(current))
            if not worse.any():
                break
            scale = np.where(worse, scale / 2, scale)
        # A step no halving can improve means the maximum is reached to machine precision.
        accepted = ~worse
        theta = np.where(accepted[:, None], candidate, theta)
        current = np.where(accepted, value, current)
        converged |= worse | (np.abs(scale[:, None] * step).max(1) < STEP_TOLERANCE)
        if converged.all():
            break
    slope = theta[:, 1] / spread
    return theta[:, 0] - slope * centre, slope, converged


def covariance(a: float, b: float, doses: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """(2, 2) asymptotic covariance of (a, b): the inverse Fisher information at (a, b)."""
    p = sigmoid(a + b * doses)
    weight = trials * p * (1 - p)
    h00, h01, h11 = weight.sum(), (weight * doses).sum(), (weight * doses**2).sum()
    det = h00 * h11 - h01 * h01
    if not det > 0:
        return np.full((2, 2), np.nan)
    return np.array([[h11, -h01], [-h01, h00]]) / det
