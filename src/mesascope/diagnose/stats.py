"""Small exact statistical helpers in plain Python/NumPy (SciPy is not a dependency).

- `chi2_sf(x, df)`: the chi-square survival function P(X ≥ x) for an integer number of degrees
  of freedom, in closed form: for even df, `exp(−x/2) Σ_{i<df/2} (x/2)^i / i!`; for odd df,
  `erfc(√(x/2)) + √(2x/π) exp(−x/2) Σ_{i=1}^{(df−1)/2} x^{i−1} / (1·3·…·(2i−1))`. Terms are
  summed in log space so large x underflows to 0 instead of producing inf·0.
- `normal_quantile(p)`: the standard normal quantile (stdlib `statistics.NormalDist`).
- `wilson_interval(successes, trials, confidence)`: the Wilson score interval for a binomial
  share, which stays inside [0, 1] and is sensible at 0 or n successes (where the Wald
  interval collapses to a point).
"""

from __future__ import annotations

import math
from statistics import NormalDist


def chi2_sf(x: float, df: int) -> float:
    """P(X ≥ x) for X ~ chi-square with `df` (a positive integer) degrees of freedom."""
    if isinstance(df, bool) or int(df) != df or df < 1:
        raise ValueError(f"df must be a positive integer, got {df!r}")
    df = int(df)
    x = float(x)
    if math.isnan(x):
        return float("nan")
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    half = x / 2
    if df % 2 == 0:
        logs = [-half + i * math.log(half) - math.lgamma(i + 1) for i in range(df // 2)]
        return min(1.0, math.fsum(math.exp(t) for t in logs))
    # 1·3·…·(2i−1) = (2i)! / (2^i i!), so log of the i-th term is computed without overflow.
    logs = [
        0.5 * math.log(2 * x / math.pi) - half + (i - 1) * math.log(x)
        - (math.lgamma(2 * i + 1) - i * math.log(2) - math.lgamma(i + 1))
        for i in range(1, (df - 1) // 2 + 1)
    ]
    return min(1.0, math.erfc(math.sqrt(half)) + math.fsum(math.exp(t) for t in logs))


def normal_quantile(p: float) -> float:
    """The standard normal quantile Φ⁻¹(p) for p in (0, 1)."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    return NormalDist().inv_cdf(p)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """(share, low, high): the observed share and its Wilson score interval; NaNs when trials = 0."""
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"successes must be in [0, trials] and trials ≥ 0, got {successes} of {trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if trials == 0:
        return float("nan"), float("nan"), float("nan")
    z = normal_quantile((1 + confidence) / 2)
    share = successes / trials
    scale = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / scale
    half = z / scale * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return share, low, high
