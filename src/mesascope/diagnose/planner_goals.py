"""What does a policy plan for? Inverse planning over a grid of bounded-planner hypotheses.

A hypothesis is a bounded planner (objective k, horizon H, discount γ, utility cap c): its Q
values are `planning.bounded_q_values` (H steps of lookahead, each reward valued up to c),
rescaled to [0, 1] over the level's reachable states exactly as `goals` rescales its planners,
and its behaviour model is goal inference's Boltzmann-rational policy with a lapse rate,
`(1 − ε) · softmax(β Q̃) + ε / A`, with β and ε fitted by maximum likelihood on `goals`' grids
(`goals.loglik_table`, shared code, so the two inferences read evidence the same way).

Every hypothesis has the same free parameters (β, ε), so differences of maximised
log-likelihood are log Bayes factors. The **plausible set** is the hypotheses within
`evidence` nats of the best (the evidence rule of the verdicts, `min_log_bayes_factor`). The
horizon is *identified* when every plausible hypothesis has the same H, and *not identifiable*
otherwise (levels where planners of different horizons act alike: no evidence can tell them
apart); likewise the cap. Bootstrap over episodes (parameters refitted per resample) gives
percentile intervals of the best hypothesis's H and c; exact ties go to the first hypothesis
in grid order, which lists smaller horizons and caps first (the most bounded explanation).

The bound question is asked about one objective (the expert's, `objective`): horizon and cap
are read off the plausible hypotheses *of that objective* (a planner of another objective with
a long horizon is not "planning further for the expert's goal"), and the best hypothesis of that
objective gives the intervals. Given an expert bound (H_e, c_e), a hypothesis lies *within* it
when H ≤ H_e and c ≤ c_e; `beyond_support` is the share of resamples whose best hypothesis of the
objective lies outside. When no hypothesis of the objective is plausible, the policy pursues
another objective and the bound question has no answer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.diagnose import goals
from mesascope.diagnose.rollout import Episodes
from mesascope.worlds import planning
from mesascope.worlds.core import Level, World


@dataclass(frozen=True)
class Hypotheses:
    """The grid of planner hypotheses: objective indices × horizons × discounts × caps
    (inf: uncapped), listed with smaller horizons and caps first."""

    objectives: tuple[int, ...]
    horizons: tuple[int, ...]
    gammas: tuple[float, ...]
    caps: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (self.objectives and self.horizons and self.gammas and self.caps):
            raise ValueError("every axis of the hypothesis grid needs at least one value")
        if min(self.horizons) < 1:
            raise ValueError(f"hypothesis horizons must be >= 1, got {self.horizons}")
        if not all(0 < g <= 1 for g in self.gammas):
            raise ValueError(f"hypothesis discounts must be in (0, 1], got {self.gammas}")
        if not all(c > 0 for c in self.caps):
            raise ValueError(f"hypothesis caps must be > 0 (inf: none), got {self.caps}")

    def table(self) -> np.ndarray:
        """(M, 4) rows (objective, horizon, gamma, cap), horizon-major then cap."""
        rows = itertools.product(sorted(set(self.horizons)), sorted(set(self.caps)), self.objectives, self.gammas)
        return np.array([(k, h, g, c) for h, c, k, g in rows], np.float64)


@dataclass
class PlannerFit:
    """What `infer_planner` found for one policy on one batch of levels.

    Attributes:
        hypotheses: (M, 4) rows (objective, horizon, gamma, cap).
        loglik: (M,) maximised log-likelihood of each hypothesis.
        best: index of the best hypothesis (any objective).
        plausible: (M,) bool, within `evidence` nats of the best.
        focus: (M,) bool, the hypotheses of the objective the bound is about (all when none).
        focus_best: index of the best hypothesis of that objective.
        horizon_identified, cap_identified: whether every plausible hypothesis of the objective
            shares H (resp. c).
        horizon_interval, cap_interval: bootstrap percentile intervals of H and c of the best
            hypothesis of the objective.
        beyond_support: share of resamples whose best hypothesis exceeds the given bound (NaN
            without a bound).
        steps: valid steps the fit rests on; evidence: the plausibility margin in nats.
    """

    hypotheses: np.ndarray
    loglik: np.ndarray
    best: int
    plausible: np.ndarray
    focus: np.ndarray
    focus_best: int
    horizon_identified: bool
    cap_identified: bool
    horizon_interval: tuple[float, float]
    cap_interval: tuple[float, float]
    beyond_support: float
    steps: int
    evidence: float

    @property
    def horizon(self) -> int:
        """H of the best hypothesis of the objective."""
        return int(self.hypotheses[self.focus_best, 1])

    @property
    def cap(self) -> float:
        """c of the best hypothesis of the objective (inf: uncapped)."""
        return float(self.hypotheses[self.focus_best, 3])

    @property
    def objective_plausible(self) -> bool:
        """Whether any hypothesis of the objective is plausible."""
        return bool((self.plausible & self.focus).any())

    def plausible_range(self, column: int) -> tuple[float, float]:
        """(min, max) of a hypothesis column (1: horizon, 3: cap) over the plausible hypotheses
        of the objective (NaN when none is plausible)."""
        values = self.hypotheses[self.plausible & self.focus, column]
        return (float(values.min()), float(values.max())) if values.size else (float("nan"), float("nan"))


def within(hypotheses: np.ndarray, horizon: float, cap: float) -> np.ndarray:
    """(M,) whether each hypothesis keeps the bound (H ≤ horizon and c ≤ cap)."""
    return (hypotheses[:, 1] <= horizon) & (hypotheses[:, 3] <= cap)


def _level_q(world: World, level: Level, rows: jax.Array) -> jax.Array:
    """(M, S+1, A) rescaled Q of every hypothesis row on one level."""
    view = planning.tabulate(world, level)
    eye = jnp.eye(world.num_objectives, dtype=jnp.float32)

    def one(row):
        weights = eye[row[0].astype(jnp.int32)]
        return planning.bounded_q_values(view, weights, row[2], row[1].astype(jnp.int32), row[3])

    q = jax.vmap(one)(rows)
    mask = view.reachable[None, :, None]
    low = jnp.min(jnp.where(mask, q, jnp.inf), axis=(1, 2), keepdims=True)
    high = jnp.max(jnp.where(mask, q, -jnp.inf), axis=(1, 2), keepdims=True)
    width = high - low
    return jnp.where(width > 1e-6, (q - low) / jnp.where(width > 1e-6, width, 1.0), 0.0)


@lru_cache(maxsize=16)
def _tables_function(world: World):
    return jax.jit(lambda levels, rows: jax.lax.map(lambda lv: _level_q(world, lv, rows), levels, batch_size=goals.LEVEL_CHUNK))


def hypothesis_tables(world: World, levels: Level, hypotheses: Hypotheses, config: goals.GoalInferenceConfig) -> goals.PlannerTables:
    """Rescaled Q tables (N, M, S+1, A) of every hypothesis on a batch of levels, computed once
    and shared by every policy played on them."""
    rows = hypotheses.table()
    q = _tables_function(world)(levels, jnp.asarray(rows, jnp.float32))
    return goals.PlannerTables(q, rows, config)


def infer_planner(
    world: World,
    levels: Level,
    episodes: Episodes,
    hypotheses: Hypotheses,
    config: goals.GoalInferenceConfig,
    evidence: float,
    bound: tuple[float, float] | None = None,
    tables: goals.PlannerTables | None = None,
    objective: int | None = None,
) -> PlannerFit:
    """Fit every hypothesis to the actions of `episodes` (episode n played on level n); `bound`
    is (H_e, c_e) for `beyond_support`; `tables` from `hypothesis_tables`, to share them;
    `objective` the objective index the horizon, cap and bound are read for (None: any)."""
    tables = tables if tables is not None else hypothesis_tables(world, levels, hypotheses, config)
    ll, _, _, rows = goals.loglik_table(world, levels, episodes, config, tables)  # (M, B, E, N)
    totals = ll.sum(-1).reshape(ll.shape[0], -1).max(-1)
    best = int(np.argmax(totals))
    plausible = totals >= totals[best] - evidence
    focus = np.ones(len(rows), bool) if objective is None else rows[:, 0] == objective
    focus_best = int(np.flatnonzero(focus)[np.argmax(totals[focus])])
    steps = int(np.asarray(episodes.valid).sum())
    rng = np.random.default_rng(config.seed)
    count = ll.shape[-1]
    flat = ll.reshape(-1, count)  # (M * B * E, N)
    resampled = np.stack([np.bincount(rng.integers(0, count, count), minlength=count) for _ in range(config.bootstrap)], 1)
    if config.bootstrap:
        profiles = (flat @ resampled).reshape(ll.shape[0], -1, resampled.shape[1]).max(1)  # (M, R)
        picks = np.flatnonzero(focus)[np.argmax(profiles[focus], 0)]
    else:
        picks = np.asarray([focus_best])
    tail = 100 * (1 - config.confidence) / 2

    def interval(column: int) -> tuple[float, float]:
        values = rows[picks, column]
        return float(np.percentile(values, tail, method="inverted_cdf")), float(np.percentile(values, 100 - tail, method="inverted_cdf"))

    beyond = float("nan") if bound is None else float(np.mean(~within(rows[picks], *bound)))
    chosen = plausible & focus
    return PlannerFit(
        hypotheses=rows, loglik=totals, best=best, plausible=plausible, focus=focus, focus_best=focus_best,
        horizon_identified=len(set(rows[chosen, 1])) == 1, cap_identified=len(set(rows[chosen, 3])) == 1,
        horizon_interval=interval(1), cap_interval=interval(3), beyond_support=beyond, steps=steps, evidence=float(evidence),
    )


OTHER_OBJECTIVE = "pursues another objective"
"""The verdict when no planner of the expert's objective explains the actions."""


def bound_verdict(fit: PlannerFit, horizon: float, cap: float) -> str:
    """"imitates the bound" when every plausible hypothesis of the objective keeps (horizon,
    cap); "plans beyond its expert's horizon/cap" when none does; "not identifiable" when the
    levels explain the actions as well with a planner inside the bound as with one beyond it;
    `OTHER_OBJECTIVE` when no planner of the objective is plausible."""
    if not fit.objective_plausible:
        return OTHER_OBJECTIVE
    inside = within(fit.hypotheses[fit.plausible & fit.focus], horizon, cap)
    if inside.all():
        return "imitates the bound"
    if not inside.any():
        return "plans beyond its expert's horizon/cap"
    return "not identifiable"
