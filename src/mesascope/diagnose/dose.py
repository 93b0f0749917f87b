"""Dose-response of alignment: how a numeric dial in training moves what agents learn.

The dial is any number per agent: in one experiment, each agent's training shift value (how
often the intended objective and the proxy were made to disagree in training); in a sweep, any
numeric config value. Everything here is a pure NumPy function of per-agent arrays, plus
`dose_response`, which reads one `ExperimentResult` on its test distribution.

- **Mean per dose**: the mean over agents at each dose value of a per-agent number (e.g. the
  normalised intended return on test, 0 = random policy, 1 = optimal) with a percentile
  bootstrap interval over agents (`DoseConfig.confidence`, `resamples`, `seed`). Agents whose
  number is undefined (NaN) are left out and counted.
- **Share per dose**: the share of agents with a binary outcome (e.g. verdict = robustly
  aligned) with its Wilson score interval at `DoseConfig.confidence`.
- **Logistic fit**: P(outcome | dose) = σ(a + b·dose) by maximum likelihood over agents
  (logistic.py). ED50 = −a/b is the dose at which P = 0.5; its interval is a percentile
  bootstrap that resamples agents within each dose (equivalently, draws each dose's successes
  from Binomial(n, k/n)) and refits, over the resamples whose MLE is finite. The band is the
  Wald interval of a + b·dose (inverse Fisher information) mapped through σ. The
  likelihood-ratio test of b = 0 compares with the constant-share model (χ², 1 df). The
  goodness-of-fit test compares with the saturated model that gives each dose its own share:
  deviance 2(ℓ_saturated − ℓ_fit) on (number of doses − 2) df, only with ≥ 3 doses (with 2 the
  curve passes through both shares exactly); it relies on several agents per dose.
  The fit **fits** when both outcomes occur at two or more doses, the MLE is finite (no
  perfect or quasi-perfect separation; if separated, `bracket` gives the two doses between
  which the share crosses 50% instead of an ED50, and `log_likelihood` is the supremum), the
  slope is significant (LR p < `alpha`), and goodness of fit is not rejected (p ≥ `alpha_gof`).
  `reason` says which of these failed, in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mesascope.diagnose import logistic
from mesascope.diagnose.stats import chi2_sf, normal_quantile, wilson_interval
from mesascope.records.results import ExperimentResult
from mesascope.records import readings

FITTED_CATEGORIES = ("robustly aligned", "proxy-aligned")
"""Verdict categories whose share `dose_response` fits against the dial."""


@dataclass(frozen=True)
class DoseConfig:
    """Levels and resampling of the dose-response statistics.

    Attributes:
        alpha: the slope counts as significant when the likelihood-ratio p-value is below this.
        alpha_gof: the logistic shape is rejected when the goodness-of-fit p-value is below this.
        confidence: level of every interval (bootstrap, Wilson, ED50, curve band).
        resamples: bootstrap resamples (means over agents and the ED50).
        seed: seed of the bootstrap's random generator.
        grid_points: points of the dose grid on which the fitted curve and band are given.
    """

    alpha: float = 0.05
    alpha_gof: float = 0.05
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0
    grid_points: int = 101

    def __post_init__(self) -> None:
        for name in ("alpha", "alpha_gof", "confidence"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < 1):
                raise ValueError(f"DoseConfig.{name} must be a number in (0, 1), got {value!r}")
        for name, low in (("resamples", 1), ("seed", 0), ("grid_points", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"DoseConfig.{name} must be an integer ≥ {low}, got {value!r}")


@dataclass(frozen=True)
class DoseMean:
    """Mean of a per-agent number at one dose: `defined` of `agents` agents had a finite value."""

    dose: float
    agents: int
    defined: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class DoseShare:
    """Share of `agents` agents at one dose with the outcome (`successes`), Wilson interval."""

    dose: float
    agents: int
    successes: int
    share: float
    low: float
    high: float


@dataclass(frozen=True, eq=False)
class LogisticFit:
    """A logistic fit of a binary outcome against a dose (see the module docstring).

    `a`, `b`: intercept and slope (b = ±inf, a = NaN under separation; NaN when no fit);
    `a_se`, `b_se`: their asymptotic standard errors; `ed50`, `ed50_low`, `ed50_high`: the dose
    at which P = 0.5 and its bootstrap interval over `ed50_resamples` usable resamples;
    `bracket`: under separation, the two doses between which the share crosses 50%;
    `grid`, `curve`, `band_low`, `band_high`: the fitted P and its band on a grid over the doses;
    `log_likelihood`, `null_log_likelihood`: of the fit and of the constant-share model;
    `lr_statistic`, `lr_p`: likelihood-ratio test of b = 0; `deviance`, `gof_df`, `gof_p`:
    goodness of fit against the saturated model (NaN, 0 when not computed)."""

    agents: int
    doses: int
    separated: bool
    a: float
    b: float
    a_se: float
    b_se: float
    ed50: float
    ed50_low: float
    ed50_high: float
    ed50_resamples: int
    bracket: tuple[float, float] | None
    log_likelihood: float
    null_log_likelihood: float
    lr_statistic: float
    lr_p: float
    deviance: float
    gof_df: int
    gof_p: float
    grid: np.ndarray
    curve: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray
    fits: bool
    reason: str


def _levels(doses: np.ndarray, levels: np.ndarray | None) -> np.ndarray:
    """The dose values to report: `levels` if given, else the distinct `doses`, ascending."""
    return np.unique(np.asarray(doses if levels is None else levels, float))


def mean_by_dose(doses: np.ndarray, values: np.ndarray, config: DoseConfig = DoseConfig(),
                 levels: np.ndarray | None = None) -> tuple[DoseMean, ...]:
    """Per dose value, the mean of the agents' finite `values` with a bootstrap interval."""
    doses, values = np.asarray(doses, float).ravel(), np.asarray(values, float).ravel()
    if doses.shape != values.shape:
        raise ValueError(f"doses and values must have one entry per agent, got {doses.size} and {values.size}")
    out = []
    for dose in _levels(doses, levels):
        members = values[doses == dose]
        mean, low, high = readings.bootstrap_ci(members, config.resamples, config.confidence, config.seed)
        out.append(DoseMean(float(dose), int(members.size), int(np.isfinite(members).sum()), mean, low, high))
    return tuple(out)


def share_by_dose(doses: np.ndarray, outcomes: np.ndarray, config: DoseConfig = DoseConfig(),
                  levels: np.ndarray | None = None) -> tuple[DoseShare, ...]:
    """Per dose value, the share of agents with the (binary) outcome and its Wilson interval."""
    values, trials, successes = logistic.group(doses, outcomes)
    found = {float(v): (int(n), int(k)) for v, n, k in zip(values, trials, successes)}
    out = []
    for dose in _levels(values, levels):
        n, k = found.get(float(dose), (0, 0))
        out.append(DoseShare(float(dose), n, k, *wilson_interval(k, n, config.confidence)))
    return tuple(out)


def _bracket(doses: np.ndarray, trials: np.ndarray, successes: np.ndarray) -> tuple[float, float] | None:
    """The two adjacent doses between which the per-dose share crosses 50% (one dose twice if
    its share is exactly 50%), or None when it never does; doses without agents are skipped."""
    keep = trials > 0
    doses, above = doses[keep], successes[keep] / trials[keep] - 0.5
    exact = np.flatnonzero(above == 0)
    if exact.size:
        return float(doses[exact[0]]), float(doses[exact[0]])
    crossing = np.flatnonzero(np.sign(above[:-1]) != np.sign(above[1:]))
    if not crossing.size:
        return None
    i = int(crossing[0])
    return float(doses[i]), float(doses[i + 1])


def _failed(agents: int, doses: int, reason: str, grid: np.ndarray, bracket: tuple[float, float] | None = None,
            separated: bool = False, **known: float) -> LogisticFit:
    """A fit without a finite MLE: NaN estimates and curve (except the numbers `known`), and why."""
    nan = float("nan")
    empty = np.full(grid.shape, nan)
    values = {"a": nan, "b": nan, "log_likelihood": nan, "null_log_likelihood": nan, "lr_statistic": nan, "lr_p": nan} | known
    return LogisticFit(agents=agents, doses=doses, separated=separated, a_se=nan, b_se=nan, ed50=nan,
                       ed50_low=nan, ed50_high=nan, ed50_resamples=0, bracket=bracket, deviance=nan, gof_df=0, gof_p=nan,
                       grid=grid, curve=empty, band_low=empty, band_high=empty, fits=False, reason=reason, **values)


def _ed50_interval(doses: np.ndarray, trials: np.ndarray, successes: np.ndarray, config: DoseConfig) -> tuple[float, float, int]:
    """Percentile bootstrap interval of ED50, resampling agents within each dose."""
    rng = np.random.default_rng(config.seed)
    draws = rng.binomial(trials.astype(int), successes / trials, size=(config.resamples, trials.size)).astype(float)
    usable = logistic.separation(doses, trials, draws) == 0
    if not usable.any():
        return float("nan"), float("nan"), 0
    a, b, converged = logistic.newton(doses, trials, draws[usable])
    with np.errstate(divide="ignore", invalid="ignore"):
        ed50 = -a / b
    ed50 = ed50[converged & np.isfinite(ed50)]
    if ed50.size == 0:
        return float("nan"), float("nan"), 0
    tail = (1 - config.confidence) / 2
    return float(np.quantile(ed50, tail)), float(np.quantile(ed50, 1 - tail)), int(ed50.size)


def _separation_reason(direction: int, bracket: tuple[float, float] | None, quasi: bool, shares: np.ndarray) -> str:
    """Why a separated data set has no finite fit, and where its share crosses 50% (or that it
    never does within the doses tested)."""
    side = "higher" if direction > 0 else "lower"
    how = "at or above" if direction > 0 and quasi else "at or below" if quasi else f"at a {side} dose than"
    if bracket is None:
        stays = "below" if np.all(shares < 0.5) else "above"
        where = f"never crosses 50% within the doses tested: it stays {stays} (from {shares.min():.2f} to {shares.max():.2f})"
    else:
        low, high = bracket
        where = "crosses 50% " + (f"at dose {low:.4g}" if low == high else f"between doses {low:.4g} and {high:.4g}")
    return (f"{'quasi-' if quasi else ''}perfect separation: every agent with the outcome was {how} every agent "
            f"without it, so the maximum-likelihood slope is infinite and there is no ED50; the share {where}")


def _fit_reason(fit: dict, config: DoseConfig, converged: bool, span: tuple[float, float]) -> tuple[bool, str]:
    """Whether a finite fit passes the criteria of the module docstring, and why (not)."""
    problems = []
    if not converged:
        problems.append("Newton's method did not converge")
    if not fit["lr_p"] < config.alpha:
        problems.append(f"the slope is not significant (likelihood-ratio p = {fit['lr_p']:.3g} ≥ alpha = {config.alpha:g})")
    if fit["gof_df"] and not fit["gof_p"] >= config.alpha_gof:
        problems.append(f"goodness of fit is rejected: the shares do not follow a logistic curve (deviance {fit['deviance']:.3g} "
                        f"on {fit['gof_df']} df, p = {fit['gof_p']:.3g} < alpha_gof = {config.alpha_gof:g})")
    if problems:
        return False, "does not fit: " + "; ".join(problems)
    ed50 = fit["ed50"]
    outside = "" if span[0] <= ed50 <= span[1] else " (outside the doses tested: extrapolated)"
    gof = f"goodness of fit not rejected (p = {fit['gof_p']:.3g})" if fit["gof_df"] else "no goodness-of-fit test with 2 doses"
    return True, (f"fits: P = 0.5 at dose {ed50:.4g} [{fit['ed50_low']:.4g}, {fit['ed50_high']:.4g}]{outside}; "
                  f"slope significant (likelihood-ratio p = {fit['lr_p']:.3g}); {gof}")


def _finite_fit(levels: np.ndarray, trials: np.ndarray, successes: np.ndarray, null: float, config: DoseConfig) -> LogisticFit:
    """The fit of non-separated data: MLE, band, ED50 interval, LR and goodness-of-fit tests."""
    estimates = logistic.newton(levels, trials, successes)
    a, b, converged = float(estimates[0][0]), float(estimates[1][0]), bool(estimates[2][0])
    fitted = float(logistic.log_likelihood(np.array(a), np.array(b), levels, trials, successes))
    statistic = max(0.0, 2 * (fitted - null))
    cov = logistic.covariance(a, b, levels, trials)
    grid = np.linspace(levels.min(), levels.max(), config.grid_points)
    eta = a + b * grid
    variance = np.maximum(cov[0, 0] + 2 * grid * cov[0, 1] + grid**2 * cov[1, 1], 0.0)  # of a + b·dose
    spread = normal_quantile((1 + config.confidence) / 2) * np.sqrt(variance)
    ed50_low, ed50_high, used = _ed50_interval(levels, trials, successes, config)
    gof_df = levels.size - 2
    deviance = max(0.0, 2 * (float(logistic.saturated_log_likelihood(trials, successes)) - fitted)) if gof_df else float("nan")
    numbers = {
        "a": a, "b": b, "a_se": float(np.sqrt(cov[0, 0])), "b_se": float(np.sqrt(cov[1, 1])),
        "ed50": -a / b if b != 0 else float("nan"), "ed50_low": ed50_low, "ed50_high": ed50_high, "ed50_resamples": used,
        "log_likelihood": fitted, "null_log_likelihood": null, "lr_statistic": statistic, "lr_p": chi2_sf(statistic, 1),
        "deviance": deviance, "gof_df": gof_df, "gof_p": chi2_sf(deviance, gof_df) if gof_df else float("nan"),
    }
    fits, reason = _fit_reason(numbers, config, converged, (float(levels.min()), float(levels.max())))
    return LogisticFit(agents=int(trials.sum()), doses=int(levels.size), separated=False, bracket=None, grid=grid,
                       curve=logistic.sigmoid(eta), band_low=logistic.sigmoid(eta - spread),
                       band_high=logistic.sigmoid(eta + spread), fits=fits, reason=reason, **numbers)


def fit_logistic(doses: np.ndarray, outcomes: np.ndarray, config: DoseConfig = DoseConfig()) -> LogisticFit:
    """Maximum-likelihood logistic regression of binary per-agent `outcomes` on `doses`, with
    ED50, its bootstrap interval, a curve band, the LR test of b = 0, goodness of fit and a
    plain-language verdict on whether the logistic model fits (see the module docstring)."""
    levels, trials, successes = logistic.group(doses, outcomes)
    agents, count = int(trials.sum()), int(levels.size)
    grid = np.linspace(levels.min(), levels.max(), config.grid_points) if count else np.array([])
    if agents == 0:
        return _failed(0, 0, "no agents to fit", grid)
    if count < 2:
        return _failed(agents, count, f"every agent has the same dose ({levels[0]:.4g}): the slope cannot be estimated", grid)
    total = successes.sum()
    if total in (0, agents):
        which = "no agent" if total == 0 else "every agent"
        return _failed(agents, count, f"{which} had the outcome: both outcomes must occur to fit a curve", grid)
    null = float(logistic.saturated_log_likelihood(np.array([agents], float), np.array([total])))
    direction = int(logistic.separation(levels, trials, successes)[0])
    if direction == 0:
        return _finite_fit(levels, trials, successes, null, config)
    # The supremum of the likelihood is the saturated model's (the boundary dose keeps its share).
    best = float(logistic.saturated_log_likelihood(trials, successes))
    statistic = 2 * (best - null)
    bracket = _bracket(levels, trials, successes)
    quasi = bool(((successes > 0) & (successes < trials)).any())
    shares = successes[trials > 0] / trials[trials > 0]
    return _failed(agents, count, _separation_reason(direction, bracket, quasi, shares), grid, bracket=bracket, separated=True,
                   b=direction * math.inf,
                   log_likelihood=best, null_log_likelihood=null, lr_statistic=statistic, lr_p=chi2_sf(statistic, 1))


@dataclass(frozen=True, eq=False)
class DoseResponse:
    """The dose-response of one experiment on its test distribution, the dial being each
    agent's training shift value.

    `returns[objective]`: mean normalised return per dose (bootstrap interval over agents);
    `shares[category]`: share of agents per dose with each verdict category (Wilson interval),
    over the agents with a verdict on `distribution` (`without_verdict` counts the others);
    `fits[category]`: the logistic fit of that category against the dial, for the categories
    in `FITTED_CATEGORIES`."""

    dial: str
    distribution: str
    objectives: tuple[str, ...]
    doses: tuple[float, ...]
    returns: dict[str, tuple[DoseMean, ...]]
    shares: dict[str, tuple[DoseShare, ...]]
    fits: dict[str, LogisticFit]
    without_verdict: int
    config: DoseConfig = field(default_factory=DoseConfig)


def dose_response(result: ExperimentResult, config: DoseConfig = DoseConfig(), dial_name: str = "train_shift") -> DoseResponse:
    """Normalised returns, verdict shares and logistic fits against the training shift value (or
    any traced knob the agents recorded, `dial_name`), on the result's test distribution
    (`readings.test_distribution`)."""
    distribution = readings.test_distribution(result)
    dial = readings.agent_dial(result, dial_name)
    levels = np.unique(dial)
    per_agent = readings.agent_normalised(result, distribution)
    returns = {name: mean_by_dose(dial, per_agent[:, k], config, levels) for k, name in enumerate(result.objectives)}
    verdicts = readings.verdict_by_agent(result, distribution)
    judged = np.array([record.agent in verdicts for record in result.agents], bool)
    categories = np.array([readings.verdict_category(verdicts[r.agent].verdict) if r.agent in verdicts else readings.NO_VERDICT
                           for r in result.agents], dtype=object)
    shares = {c: share_by_dose(dial[judged], categories[judged] == c, config, levels) for c in readings.VERDICT_CATEGORIES}
    fits = {c: fit_logistic(dial[judged], categories[judged] == c, config) for c in FITTED_CATEGORIES}
    return DoseResponse(result.shift_name if dial_name == "train_shift" else dial_name, distribution, tuple(result.objectives), tuple(float(v) for v in levels),
                        returns, shares, fits, int((~judged).sum()), config)
