"""Goodhart curves: best-of-n selection statistics and the fitted forms of Gao et al. (2022).

Under optimisation pressure against a grader, the true (intended) score first rises and then
may fall. The pressure is measured as d = sqrt(KL) from the base policy:

- best-of-n over episodes: KL_BoN(n) = log n - (n-1)/n; the expected true and graded score of
  the best of n episodes is estimated without bias from M >= n episodes per level (order
  statistics: the i-th lowest graded of M is the best of a random n-subset with probability
  C(i, n-1) / C(M, n));
- a policy trained on the grader: KL estimated from its own samples.

The gain over the base policy, R(d) = score(d) - score(0), is fitted by least squares with
R_bon(d) = d(alpha - beta d) (peak at d* = alpha / 2 beta) and R_RL(d) = d(alpha - beta log d)
(peak at d* = exp(alpha / beta - 1)); both are linear in (alpha, beta). Goodness of fit is R^2
and the RMSE; the peak's interval is a percentile bootstrap over units (levels or seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

FORMS = ("bon", "rl")


def bon_kl(n: int | np.ndarray) -> np.ndarray:
    """KL of the best-of-n policy from the base policy: log n - (n - 1)/n."""
    n = np.asarray(n, np.float64)
    if np.any(n < 1):
        raise ValueError(f"best-of-n needs n >= 1, got {n.tolist()}")
    return np.log(n) - (n - 1) / n


def best_of_n(true: np.ndarray, graded: np.ndarray, ns: tuple[int, ...], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Expected (true, graded) score of the best of n episodes by grade, per level and n.

    `true`, `graded`: (L, M) scores of M episodes on each of L levels. Ties in the grade are
    broken uniformly at random. Returns two (L, len(ns)) arrays."""
    true, graded = np.asarray(true, np.float64), np.asarray(graded, np.float64)
    count = true.shape[1]
    if max(ns) > count:
        raise ValueError(f"best-of-n needs at least n = {max(ns)} episodes per level, got {count}")
    order = np.lexsort((rng.random(graded.shape), graded), axis=1)  # ascending grade, random ties
    true_sorted = np.take_along_axis(true, order, 1)
    graded_sorted = np.take_along_axis(graded, order, 1)
    below = np.arange(count, dtype=np.float64)
    out_true, out_graded = [], []
    for n in ns:
        with np.errstate(invalid="ignore"):
            log_w = gammaln(below + 1) - gammaln(n) - gammaln(below - n + 2) - (gammaln(count + 1) - gammaln(n + 1) - gammaln(count - n + 1))
        weights = np.where(below >= n - 1, np.exp(log_w), 0.0)
        out_true.append(true_sorted @ weights)
        out_graded.append(graded_sorted @ weights)
    return np.stack(out_true, 1), np.stack(out_graded, 1)


@dataclass(frozen=True)
class GoodhartFit:
    """A fitted Goodhart curve of the gain in true score against d = sqrt(KL).

    Attributes:
        form: 'bon' (d(alpha - beta d)) or 'rl' (d(alpha - beta log d)).
        alpha, beta: least-squares coefficients (on the mean over units).
        r2, rmse: goodness of fit on the mean curve.
        peak: d* where the fitted curve peaks (inf when beta <= 0: no peak).
        peak_low, peak_high: percentile bootstrap interval of d* over units.
        peak_share: share of bootstrap resamples whose fit has a peak.
        empirical_peak: the measured d with the highest mean true gain.
    """

    form: str
    alpha: float
    beta: float
    r2: float
    rmse: float
    peak: float
    peak_low: float
    peak_high: float
    peak_share: float
    empirical_peak: float


def _design(form: str, d: np.ndarray) -> np.ndarray:
    if form == "bon":
        return np.stack([d, -d * d], -1)
    safe = np.where(d > 0, d, 1.0)
    return np.stack([d, -d * np.log(safe)], -1)


def fit_form(form: str, d: np.ndarray, gain: np.ndarray) -> tuple[float, float]:
    """Least-squares (alpha, beta) of `form` through points (d, gain) (1-D arrays)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {list(FORMS)}, got {form!r}")
    coef, *_ = np.linalg.lstsq(_design(form, np.asarray(d, np.float64)), np.asarray(gain, np.float64), rcond=None)
    return float(coef[0]), float(coef[1])


def peak_of(form: str, alpha: float, beta: float) -> float:
    """Where the fitted curve peaks on d >= 0, d being sqrt(KL) (inf without a peak: beta <= 0;
    0 for a best-of-n fit that only falls, alpha <= 0: pressure hurts from the start)."""
    if beta <= 0:
        return math.inf
    if form == "bon":
        return max(alpha / (2 * beta), 0.0)
    return math.exp(min(alpha / beta - 1, 700.0))


def curve(form: str, alpha: float, beta: float, d: np.ndarray) -> np.ndarray:
    """The fitted gain at d."""
    return _design(form, np.asarray(d, np.float64)) @ np.array([alpha, beta])


def fit_goodhart(form: str, d: np.ndarray, gain: np.ndarray, resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> GoodhartFit:
    """Fit `form` to per-unit curves: `d` and `gain` are (U, P) (units: levels or seeds; the
    gain is the true score minus the base policy's), fitted on the mean over units, with the
    peak's interval from resampling units."""
    d, gain = np.atleast_2d(np.asarray(d, np.float64)), np.atleast_2d(np.asarray(gain, np.float64))
    mean_d, mean_gain = d.mean(0), gain.mean(0)
    alpha, beta = fit_form(form, mean_d, mean_gain)
    fitted = curve(form, alpha, beta, mean_d)
    total = np.sum((mean_gain - mean_gain.mean()) ** 2)
    residual = np.sum((mean_gain - fitted) ** 2)
    r2 = 1.0 - residual / total if total > 0 else float("nan")
    rng = np.random.default_rng(seed)
    peaks = []
    for _ in range(resamples):
        pick = rng.integers(0, d.shape[0], d.shape[0])
        peaks.append(peak_of(form, *fit_form(form, d[pick].mean(0), gain[pick].mean(0))))
    peaks_arr = np.asarray(peaks)
    tail = (1 - confidence) / 2
    # nearest order statistics: inf (no peak) stays inf instead of turning into NaN
    low = np.quantile(peaks_arr, tail, method="lower")
    high = np.quantile(peaks_arr, 1 - tail, method="higher")
    return GoodhartFit(
        form=form, alpha=alpha, beta=beta, r2=float(r2), rmse=float(np.sqrt(residual / len(mean_d))),
        peak=peak_of(form, alpha, beta), peak_low=float(low), peak_high=float(high),
        peak_share=float(np.isfinite(peaks_arr).mean()), empirical_peak=float(mean_d[int(np.argmax(mean_gain))]),
    )


@dataclass(frozen=True)
class PressurePoint:
    """One pressure of a kind: d = sqrt(KL) (mean over graders) and the true and graded score
    (mean over graders with a bootstrap interval over them)."""

    label: str
    d: float
    true: tuple[float, float, float]
    graded: tuple[float, float, float]


@dataclass(frozen=True)
class GoodhartCurves:
    """The points and fits of every pressure kind measured in a study."""

    points: dict[str, list[PressurePoint]]
    fits: dict[str, GoodhartFit]
    base_true: float
    planner_true: float


def _interval(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    values = np.asarray(values, np.float64)
    means = rng.choice(values, size=(1000, values.size)).mean(1)
    return float(values.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def curves(arrays: dict[str, np.ndarray], seed: int = 0) -> GoodhartCurves:
    """Points and fits from a study's arrays (`experiments.goodhart`): best-of-n gains are over
    the random base policy, RL gains over each agent's initial policy; units are graders."""
    rng = np.random.default_rng(seed)
    base = float(np.mean(arrays["random_true"]))
    points: dict[str, list[PressurePoint]] = {}
    fits: dict[str, GoodhartFit] = {}
    if "bon_n" in arrays:
        n = arrays["bon_n"]
        d = np.sqrt(bon_kl(n))
        true, graded = arrays["bon_true"], arrays["bon_graded"]
        points["bon"] = [PressurePoint(f"n = {int(k)}", float(d[j]), _interval(true[:, j], rng), _interval(graded[:, j], rng)) for j, k in enumerate(n)]
        if len(n) >= 2:
            fits["bon"] = fit_goodhart("bon", np.tile(d, (true.shape[0], 1)), true - base, seed=seed)
    if "rl_steps" in arrays:
        d = np.sqrt(arrays["rl_kl"])
        true, graded = arrays["rl_true"], arrays["rl_graded"]
        points["rl"] = [PressurePoint(f"step {int(s)}", float(d[:, j].mean()), _interval(true[:, j], rng), _interval(graded[:, j], rng)) for j, s in enumerate(arrays["rl_steps"])]
        if d.shape[1] >= 3:
            fits["rl"] = fit_goodhart("rl", d, true - true[:, :1], seed=seed)
    if "plan_true" in arrays:
        points["plan"] = [PressurePoint("exact optimizer", math.inf, _interval(arrays["plan_true"], rng), _interval(arrays["plan_graded"], rng))]
    return GoodhartCurves(points, fits, base, float(np.mean(arrays["planner_true"])))
