"""Goal inference by inverse planning: which objective (or mix of objectives) best explains an
agent's actions?

Definitions (docs/design.md §2.3). For each candidate objective k of the world and each level ℓ, let
`Q̃_k` be the optimal discounted Q of k on ℓ rescaled to [0, 1] over the level's reachable
states (`planning.normalised_q_values`; an objective constant on the level gets all zeros, i.e.
the uniform policy). The behaviour model of a planner for k is a Boltzmann-rational policy with
a lapse rate ε (a mistake as likely where it is costly as where it is cheap):

    π_k,β,ε(a | s) = (1 − ε) · exp(β Q̃_k(s, a)) / Σ_b exp(β Q̃_k(s, b)) + ε / A,

with β ≥ 0 and ε fitted jointly by maximum likelihood over grids shared by all episodes of the
batch (`GoalInferenceConfig.beta_grid`, `lapse_grid`; `lapse_grid = (0,)` is the plain
Boltzmann model). The β grid is log-spaced up to `β = inf`, the limit where the planner acts
uniformly among its optimal actions (Q̃ within `tolerance` of the best), so a deterministic
planner's fit never sits on a truncated edge; a fit at the largest *finite* β (the optimum lies
between it and inf) is reported in `beta_at_edge`. The `random` hypothesis is the uniform
policy with no parameter.

Mixtures: for weights w on the simplex grid of the objectives (`mixture_resolution` steps per
unit; the vertices are the single objectives), the planner of w maximises Σ_k w_k r_k / span_k,
each objective's reward scaled by the spread of its optimal Q on the level (so a weight means a
share of normalised value whatever the reward units); its Q comes from value iteration on that
weighted reward (`planning.discounted_q_values`), rescaled to [0, 1] as above.

Quantities reported per hypothesis h (objectives first, then `random`):

- `loglik`: the maximised log-likelihood L_h = max_{β,ε} Σ_episodes Σ_valid steps log π;
- `loglik_per_step`: L_h / (number of valid steps);
- `posterior`: under a uniform prior over hypotheses, with the marginal likelihood approximated
  by BIC: log p(h | data) ∝ L_h − 0.5·log(steps)·d_h, d_h the fitted parameters (β, and ε when
  the lapse grid has more than one value; 0 for `random`);
- `decisive`: the steps where h is not indifferent (Q̃ spread above `tolerance`); on the other
  steps every (β, ε) predicts the uniform policy, so all the evidence for h lies on these;
- bootstrap over episodes (resampled with replacement, parameters refitted in each resample):
  percentile intervals, and `support`, the share of resamples in which h has the highest
  posterior (exact ties split the share equally).

Over the weight grid: the profile log-likelihood of every w, the posterior over the grid
(uniform prior, all w have the same parameters), the bootstrap interval of the maximum-
likelihood weights, and the evidence for a mixture: the log Bayes factor of the best interior
w over the best vertex, charged 0.5·log(steps) per extra free weight (K − 1), and the share of
resamples in which an interior w wins.

The table LL[w, β, ε, episode] is computed in JAX (jit, vmapped over levels, no LAPACK) from the
planner Q tables of the levels (`planner_tables`, computed once per batch of levels and shared
by every agent played on them); everything after it is NumPy over that table.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.diagnose.rollout import Episodes
from mesascope.records.results import InferenceRow
from mesascope.worlds import planning
from mesascope.worlds.core import Level, World

RANDOM = "random"
"""Name of the uniform-random hypothesis."""

TIE_TOLERANCE = 1e-6
"""Log-posteriors (nats) closer than this count as tied when sharing bootstrap support."""

LEVEL_CHUNK = 32
"""Levels evaluated together (vmapped) when building the log-likelihood table."""

LOG_FLOOR = -1e9
"""Log-likelihoods of impossible actions (ε = 0, β = inf) are clipped here, so 0 · (−inf)
never turns a bootstrap sum into NaN."""


def default_beta_grid() -> tuple[float, ...]:
    """β = 0 (uniform), 40 log-spaced values from 0.1 to 10⁴, and β = inf (optimal actions only)."""
    return (0.0,) + tuple(float(b) for b in np.geomspace(0.1, 1e4, 40)) + (float("inf"),)


def default_lapse_grid() -> tuple[float, ...]:
    """Lapse rates ε from 0 (the plain Boltzmann model) to 0.75."""
    return (0.0, 0.01, 0.03, 0.1, 0.2, 0.35, 0.5, 0.75)


@dataclass(frozen=True)
class GoalInferenceConfig:
    """Settings of goal inference.

    Attributes:
        gamma: discount of the Boltzmann-rational planners' Q values.
        beta_grid: candidate rationalities β ≥ 0 (inf allowed), fitted by maximum likelihood.
        lapse_grid: candidate lapse rates ε in [0, 1), fitted jointly with β; (0,) is the plain
            Boltzmann model.
        mixture_resolution: steps per unit of the weight grid over the simplex of objectives
            (6: weights 0, 1/6, …, 1); 1 means single objectives only.
        tolerance: Q̃ differences (on the [0, 1] scale) below this count as ties: a step whose
            Q̃ spread is below it is indifferent, and at β = inf such actions are all optimal.
        bootstrap: number of bootstrap resamples over episodes (0: no intervals, support NaN).
        seed: seed of the bootstrap.
        iterations: value-iteration backups; None means `2 * world.max_steps`.
        confidence: coverage of the percentile intervals.
    """

    gamma: float = 0.9
    beta_grid: tuple[float, ...] = field(default_factory=default_beta_grid)
    lapse_grid: tuple[float, ...] = field(default_factory=default_lapse_grid)
    mixture_resolution: int = 6
    tolerance: float = 1e-5
    bootstrap: int = 500
    seed: int = 0
    iterations: int | None = None
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        grid = np.asarray(self.beta_grid, float)
        if grid.ndim != 1 or grid.size == 0 or np.any(np.isnan(grid)) or np.any(grid < 0):
            raise ValueError("beta_grid must be a non-empty sequence of values >= 0 (inf allowed)")
        lapses = np.asarray(self.lapse_grid, float)
        if lapses.ndim != 1 or lapses.size == 0 or np.any(~np.isfinite(lapses)) or np.any(lapses < 0) or np.any(lapses >= 1):
            raise ValueError("lapse_grid must be a non-empty sequence of values in [0, 1)")
        if self.mixture_resolution < 1:
            raise ValueError(f"mixture_resolution must be >= 1, got {self.mixture_resolution}")
        if not self.tolerance > 0:
            raise ValueError(f"tolerance must be > 0, got {self.tolerance}")
        if self.bootstrap < 0:
            raise ValueError(f"bootstrap must be >= 0, got {self.bootstrap}")
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")


def weight_grid(num_objectives: int, resolution: int) -> np.ndarray:
    """(M, K) weights on the simplex in steps of 1/resolution, the K vertices first (in
    objective order), then the interior and edge points."""
    vertices = np.eye(num_objectives)
    points = [np.array(c, float) / resolution for c in itertools.product(range(resolution + 1), repeat=num_objectives) if sum(c) == resolution]
    rest = [p for p in points if p.max() < 1.0]
    return np.concatenate([vertices, np.array(rest).reshape(-1, num_objectives)]) if rest else vertices


@dataclass(frozen=True, eq=False)
class GoalInference:
    """Goal inference for one batch of episodes; per-hypothesis arrays are indexed like `hypotheses`.

    Attributes:
        hypotheses: the world's objectives (intended first), then `random`.
        beta, lapse: fitted β (inf: optimal actions only) and ε per hypothesis (0, 0 for `random`).
        beta_at_edge: whether the fit sits at the largest finite β of the grid (for `random`: False).
        loglik: maximised total log-likelihood per hypothesis.
        loglik_per_step, loglik_low, loglik_high: per valid step, with a bootstrap interval.
        log_evidence: BIC log-evidence L_h − 0.5·log(steps)·d_h.
        posterior, posterior_low, posterior_high: BIC posterior, with a bootstrap interval.
        support: share of bootstrap resamples in which the hypothesis has the highest posterior.
        decisive: steps where the hypothesis is not indifferent (0 for `random`).
        decisive_union: (H, H) steps where at least one of the two hypotheses is not indifferent.
        steps: number of valid steps (actions) explained.
        episodes: number of episodes.
        penalty: the BIC penalty 0.5·log(steps) charged per fitted parameter.
        parameters: fitted parameters per objective hypothesis (β, plus ε if fitted).
        weights: (M, K) the weight grid (vertices first); weight_loglik: (M,) profile loglik.
        weight_posterior: (M,) posterior over the grid; weight_mean: (K,) its mean.
        weight_low, weight_high: (K,) bootstrap interval of the maximum-likelihood weights.
        mixture: index into `weights` of the best interior (non-vertex) weight, or -1.
        mixture_log_bf: log Bayes factor of that mixture over the best single objective (NaN if none).
        mixture_support: share of resamples in which the best interior weight beats every vertex.
    """

    hypotheses: tuple[str, ...]
    beta: np.ndarray
    lapse: np.ndarray
    beta_at_edge: np.ndarray
    loglik: np.ndarray
    loglik_per_step: np.ndarray
    loglik_low: np.ndarray
    loglik_high: np.ndarray
    log_evidence: np.ndarray
    posterior: np.ndarray
    posterior_low: np.ndarray
    posterior_high: np.ndarray
    support: np.ndarray
    decisive: np.ndarray
    decisive_union: np.ndarray
    steps: int
    episodes: int
    penalty: float
    parameters: int
    weights: np.ndarray
    weight_loglik: np.ndarray
    weight_posterior: np.ndarray
    weight_mean: np.ndarray
    weight_low: np.ndarray
    weight_high: np.ndarray
    mixture: int
    mixture_log_bf: float
    mixture_support: float

    def index(self, hypothesis: str) -> int:
        """Position of `hypothesis` in `hypotheses` (ValueError if unknown)."""
        if hypothesis not in self.hypotheses:
            raise ValueError(f"unknown hypothesis {hypothesis!r}; hypotheses: {list(self.hypotheses)}")
        return self.hypotheses.index(hypothesis)

    @property
    def best(self) -> str:
        """The hypothesis with the highest posterior (the first one on an exact tie)."""
        return self.hypotheses[int(np.argmax(self.posterior))]

    @property
    def runner_up(self) -> str:
        """The hypothesis with the second-highest posterior."""
        order = np.argsort(-self.log_evidence, kind="stable")
        return self.hypotheses[int(order[1])]

    def margin(self, first: str, second: str) -> float:
        """Log Bayes factor (nats) of `first` over `second` (BIC log-evidences)."""
        return float(self.log_evidence[self.index(first)] - self.log_evidence[self.index(second)])


# ------------------------------------------------------------------------------ JAX part
class PlannerTables:
    """Normalised planner Q tables (N, M, S+1, A) of a batch of levels for every weight of the
    grid, computed once and shared by every agent played on those levels."""

    def __init__(self, q: jax.Array, weights: np.ndarray, config: GoalInferenceConfig) -> None:
        self.q = q
        self.weights = weights
        self.config = config


def _level_q(world: World, level: Level, weights: jax.Array, gamma: float, iterations: int) -> jax.Array:
    """(M, S+1, A) normalised Q of every weight vector on one level (vertices: the objectives)."""
    view = planning.tabulate(world, level)
    raw = planning.discounted_q_values(view, gamma, iterations)  # (K, S+1, A)
    mask = view.reachable[None, :, None]
    span = jnp.max(jnp.where(mask, raw, -jnp.inf), axis=(1, 2)) - jnp.min(jnp.where(mask, raw, jnp.inf), axis=(1, 2))
    scale = jnp.where(span > 1e-6, 1.0 / jnp.where(span > 1e-6, span, 1.0), 0.0)  # (K,)
    num = world.num_objectives
    mixed = weights[num:] * scale[None]  # (M-K, K)
    if mixed.shape[0]:
        rewards = jnp.einsum("sak,mk->sam", view.rewards, mixed)
        q_mixed = planning.discounted_q_values(view.replace(rewards=rewards), gamma, iterations)
        q = jnp.concatenate([raw, q_mixed])
    else:
        q = raw
    low = jnp.min(jnp.where(mask, q, jnp.inf), axis=(1, 2), keepdims=True)
    high = jnp.max(jnp.where(mask, q, -jnp.inf), axis=(1, 2), keepdims=True)
    width = high - low
    return jnp.where(width > 1e-6, (q - low) / jnp.where(width > 1e-6, width, 1.0), 0.0)


@lru_cache(maxsize=32)
def _tables_function(world: World, gamma: float, iterations: int):
    return jax.jit(lambda levels, weights: jax.lax.map(lambda lv: _level_q(world, lv, weights, gamma, iterations), levels, batch_size=LEVEL_CHUNK))


def planner_tables(world: World, levels: Level, config: GoalInferenceConfig) -> PlannerTables:
    """The planner Q tables of a batch of levels for every weight of the config's grid."""
    iterations = config.iterations if config.iterations is not None else 2 * world.max_steps
    weights = weight_grid(world.num_objectives, config.mixture_resolution)
    q = _tables_function(world, float(config.gamma), int(iterations))(levels, jnp.asarray(weights, jnp.float32))
    return PlannerTables(q, weights, config)


@lru_cache(maxsize=32)
def _table_function(num_actions: int, tolerance: float):
    """A jitted function (q, state_index, actions, valid, betas, lapses) -> (LL (N, M, B, E),
    decisive (N, M), union (N, M, M))."""

    def one(q_level, state_index, actions, valid, betas, lapses):
        q = q_level[:, state_index]  # (M, T, A)
        finite = jnp.isfinite(betas)
        safe = jnp.where(finite, betas, 0.0)
        logp = jax.nn.log_softmax(safe[None, :, None, None] * q[:, None], axis=-1)  # (M, B, T, A)
        chosen = jnp.take_along_axis(logp, actions[None, None, :, None], axis=-1)[..., 0]  # (M, B, T)
        best = q.max(-1, keepdims=True)
        optimal = q >= best - tolerance  # (M, T, A)
        hard = jnp.where(jnp.take_along_axis(optimal, actions[None, :, None], axis=-1)[..., 0], -jnp.log(optimal.sum(-1)), -jnp.inf)
        chosen = jnp.where(finite[None, :, None], chosen, hard[:, None])
        mix = jnp.log((1.0 - lapses[None, None, :, None]) * jnp.exp(chosen)[:, :, None] + lapses[None, None, :, None] / num_actions)
        # ε = 0 keeps the exact log (no exp/log round trip underflow)
        mix = jnp.where(lapses[None, None, :, None] == 0, chosen[:, :, None], mix)
        mix = jnp.maximum(mix, LOG_FLOOR)
        ll = jnp.sum(jnp.where(valid[None, None, None], mix, 0.0), axis=-1)  # (M, B, E)
        decisive = ((best[..., 0] - q.min(-1)) > tolerance) & valid[None]  # (M, T)
        union = jnp.sum(decisive[:, None] | decisive[None, :], axis=-1)
        return ll, decisive.sum(-1), union

    def table(q, state_index, actions, valid, betas, lapses):
        return jax.lax.map(lambda xs: one(*xs, betas, lapses), (q, state_index, actions, valid), batch_size=LEVEL_CHUNK)

    return jax.jit(table)


def loglik_table(
    world: World, levels: Level, episodes: Episodes, config: GoalInferenceConfig, tables: PlannerTables | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(LL[m, b, e, n], decisive[m, n], union[m, m', n], weights (M, K)): the log-likelihood of
    episode n's actions under weight m at β = beta_grid[b] and ε = lapse_grid[e], the steps
    where weight m is not indifferent, and where m or m' is not.

    Episode n must have been played on level n of the batch `levels` (as `rollout` does)."""
    tables = tables if tables is not None else planner_tables(world, levels, config)
    fn = _table_function(world.num_actions, float(config.tolerance))
    betas = jnp.asarray(config.beta_grid, jnp.float32)
    lapses = jnp.asarray(config.lapse_grid, jnp.float32)
    ll, decisive, union = fn(tables.q, jnp.asarray(episodes.state_index), jnp.asarray(episodes.actions), jnp.asarray(episodes.valid), betas, lapses)
    return (
        np.moveaxis(np.asarray(ll, np.float64), 0, -1),
        np.moveaxis(np.asarray(decisive, np.float64), 0, -1),
        np.moveaxis(np.asarray(union, np.float64), 0, -1),
        tables.weights,
    )


# ---------------------------------------------------------------------------- NumPy part
def _profile(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Max over (β, ε) of totals (..., M, B, E): values (..., M) and the best β and ε indices."""
    flat = totals.reshape(*totals.shape[:-2], -1)
    best = np.argmax(flat, axis=-1)
    values = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
    return values, best // totals.shape[-1], best % totals.shape[-1]


def _log_evidence(loglik: np.ndarray, steps: np.ndarray, parameters: int) -> np.ndarray:
    """BIC log-evidence (..., H): the last hypothesis (`random`) has no parameter."""
    penalty = 0.5 * np.log(np.maximum(np.asarray(steps, float), 1.0))
    out = loglik.copy()
    out[..., :-1] -= parameters * np.asarray(penalty)[..., None]
    return out


def _normalise(log_weights: np.ndarray) -> np.ndarray:
    shifted = np.exp(log_weights - log_weights.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _support(log_evidence: np.ndarray) -> np.ndarray:
    """Share of rows (resamples) in which each hypothesis has the highest log-evidence."""
    winners = log_evidence >= log_evidence.max(axis=1, keepdims=True) - TIE_TOLERANCE
    return (winners / winners.sum(axis=1, keepdims=True)).mean(axis=0)


def _mixture_evidence(weight_ll: np.ndarray, num_objectives: int, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best interior index, log BF of it over the best vertex) for weight logliks (..., M)."""
    if weight_ll.shape[-1] <= num_objectives:
        shape = weight_ll.shape[:-1]
        return np.full(shape, -1), np.full(shape, np.nan)
    interior = np.argmax(weight_ll[..., num_objectives:], axis=-1)
    best_interior = np.take_along_axis(weight_ll[..., num_objectives:], interior[..., None], axis=-1)[..., 0]
    extra = 0.5 * (num_objectives - 1) * np.log(np.maximum(np.asarray(steps, float), 1.0))
    return interior + num_objectives, best_interior - extra - weight_ll[..., :num_objectives].max(axis=-1)


def infer_from_table(
    table: np.ndarray,
    steps_per_episode: np.ndarray,
    objectives: tuple[str, ...],
    num_actions: int,
    config: GoalInferenceConfig,
    decisive: np.ndarray | None = None,
    union: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> GoalInference:
    """Goal inference from a log-likelihood table LL[m, β, ε, episode] (see `loglik_table`); a
    table LL[k, β, episode] is accepted when the lapse grid has one value. `decisive` (M, N)
    and `union` (M, M, N) default to every step; `weights` (M, K) to the single objectives."""
    table = np.asarray(table, float)
    grid = np.asarray(config.beta_grid, float)
    lapses = np.asarray(config.lapse_grid, float)
    if table.ndim == 3 and lapses.size == 1:
        table = table[:, :, None, :]
    num = len(objectives)
    weights = np.eye(num) if weights is None else np.asarray(weights, float)
    if table.ndim != 4 or table.shape[0] != len(weights) or weights.shape[1] != num or table.shape[1:3] != (grid.size, lapses.size):
        raise ValueError(f"table shape {table.shape} does not match {num} objectives, {grid.size} betas and {lapses.size} lapse rates")
    steps_per_episode = np.asarray(steps_per_episode, float)
    count = table.shape[-1]
    if count == 0 or steps_per_episode.sum() <= 0:
        raise ValueError("goal inference needs at least one episode with at least one step")
    decisive = np.broadcast_to(steps_per_episode, (len(weights), count)) if decisive is None else np.asarray(decisive, float)
    union = np.broadcast_to(steps_per_episode, (len(weights), len(weights), count)) if union is None else np.asarray(union, float)
    table = np.maximum(table, LOG_FLOOR)
    steps = steps_per_episode.sum()
    parameters = 1 + int(lapses.size > 1)

    weight_ll, best_b, best_e = _profile(table.sum(-1))  # (M,)
    loglik = np.concatenate([weight_ll[:num], [-steps * np.log(num_actions)]])
    log_evidence = _log_evidence(loglik, steps, parameters)
    posterior = _normalise(log_evidence)
    finite = np.flatnonzero(np.isfinite(grid))
    top_finite = finite[np.argmax(grid[finite])] if finite.size and finite.size < grid.size else -1
    beta_at_edge = np.concatenate([best_b[:num] == top_finite, [False]]) if top_finite >= 0 else np.concatenate([best_b[:num] == np.argmax(grid), [False]])
    decisive_h = np.concatenate([decisive[:num].sum(-1), [0.0]])
    union_h = np.zeros((num + 1, num + 1))
    union_h[:num, :num] = union[:num, :num].sum(-1)
    union_h[:num, num] = union_h[num, :num] = decisive_h[:num]
    weight_posterior = _normalise(weight_ll)
    mixture, mixture_log_bf = _mixture_evidence(weight_ll, num, steps)

    if config.bootstrap > 0:
        rng = np.random.default_rng(config.seed)
        counts = rng.multinomial(count, np.full(count, 1.0 / count), size=config.bootstrap).astype(float)
        boot_totals = np.einsum("rn,mben->rmbe", counts, table)
        boot_steps = counts @ steps_per_episode
        boot_weight_ll, _, _ = _profile(boot_totals)  # (R, M)
        boot_loglik = np.concatenate([boot_weight_ll[:, :num], (-boot_steps * np.log(num_actions))[:, None]], axis=1)
        boot_evidence = _log_evidence(boot_loglik, boot_steps, parameters)
        boot_per_step = boot_loglik / np.maximum(boot_steps, 1.0)[:, None]
        tail = 100 * (1 - config.confidence) / 2
        ll_low, ll_high = np.percentile(boot_per_step, [tail, 100 - tail], axis=0)
        post_low, post_high = np.percentile(_normalise(boot_evidence), [tail, 100 - tail], axis=0)
        support = _support(boot_evidence)
        boot_map = weights[np.argmax(boot_weight_ll, axis=1)]  # (R, K)
        weight_low, weight_high = np.percentile(boot_map, [tail, 100 - tail], axis=0)
        _, boot_bf = _mixture_evidence(boot_weight_ll, num, boot_steps)
        mixture_support = float(np.mean(boot_bf > 0)) if mixture >= 0 else float("nan")
    else:
        per_step = loglik / steps
        ll_low, ll_high, post_low, post_high = per_step, per_step, posterior, posterior
        support = np.full(num + 1, np.nan)
        weight_low = weight_high = weights[int(np.argmax(weight_ll))]
        mixture_support = float("nan")

    return GoalInference(
        hypotheses=tuple(objectives) + (RANDOM,),
        beta=np.concatenate([grid[best_b[:num]], [0.0]]),
        lapse=np.concatenate([lapses[best_e[:num]], [0.0]]),
        beta_at_edge=np.asarray(beta_at_edge, bool),
        loglik=loglik,
        loglik_per_step=loglik / steps,
        loglik_low=np.asarray(ll_low),
        loglik_high=np.asarray(ll_high),
        log_evidence=log_evidence,
        posterior=posterior,
        posterior_low=np.asarray(post_low),
        posterior_high=np.asarray(post_high),
        support=support,
        decisive=decisive_h.astype(int),
        decisive_union=union_h.astype(int),
        steps=int(round(steps)),
        episodes=int(count),
        penalty=float(0.5 * np.log(steps)),
        parameters=parameters,
        weights=weights,
        weight_loglik=weight_ll,
        weight_posterior=weight_posterior,
        weight_mean=weight_posterior @ weights,
        weight_low=np.asarray(weight_low, float),
        weight_high=np.asarray(weight_high, float),
        mixture=int(mixture),
        mixture_log_bf=float(mixture_log_bf),
        mixture_support=mixture_support,
    )


def infer_goals(
    world: World, levels: Level, episodes: Episodes, config: GoalInferenceConfig | None = None, tables: PlannerTables | None = None
) -> GoalInference:
    """Which of the world's objectives (or `random`, or a mix) best explains the actions in `episodes`.

    Args:
        world: the world the episodes were played in.
        levels: the batch of N levels, episode n played on level n.
        episodes: `rollout` output with state_index, actions and valid of shape (N, T).
        config: settings; defaults to `GoalInferenceConfig()`.
        tables: `planner_tables(world, levels, config)` if already computed (shared by agents).
    """
    config = config if config is not None else GoalInferenceConfig()
    if RANDOM in world.objectives:
        raise ValueError(f"an objective may not be named {RANDOM!r}: it is the uniform-random hypothesis")
    table, decisive, union, weights = loglik_table(world, levels, episodes, config, tables)
    steps_per_episode = np.asarray(episodes.valid).sum(-1)
    return infer_from_table(table, steps_per_episode, world.objectives, world.num_actions, config, decisive, union, weights)


def to_rows(agent: int, distribution: str, inference: GoalInference) -> list[InferenceRow]:
    """One `InferenceRow` per hypothesis, for the store and the report."""
    return [
        InferenceRow(
            agent=int(agent),
            distribution=distribution,
            hypothesis=name,
            beta=float(inference.beta[h]),
            loglik_per_step=float(inference.loglik_per_step[h]),
            loglik_low=float(inference.loglik_low[h]),
            loglik_high=float(inference.loglik_high[h]),
            posterior=float(inference.posterior[h]),
            posterior_low=float(inference.posterior_low[h]),
            posterior_high=float(inference.posterior_high[h]),
        )
        for h, name in enumerate(inference.hypotheses)
    ]
