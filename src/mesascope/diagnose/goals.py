"""Goal inference by inverse planning: which objective best explains an agent's actions?

Definitions (docs/design.md §2.3). For each candidate objective k of the world and each level ℓ, let
`Q̃_k` be the optimal discounted Q of k on ℓ rescaled to [0, 1] over the level's reachable
states (`planning.normalised_q_values`; an objective constant on the level gets all zeros, i.e.
the uniform policy). A Boltzmann-rational planner for k acts with

    π_k,β(a | s) = exp(β Q̃_k(s, a)) / Σ_b exp(β Q̃_k(s, b)),

where the rationality β ≥ 0 is shared over all episodes of the batch and fitted by maximum
likelihood over a grid (`GoalInferenceConfig.beta_grid`; β = 0 is the uniform policy).
The `random` hypothesis is the uniform policy with no parameter.

Quantities reported per hypothesis h (objectives first, then `random`):

- `loglik`: the maximised log-likelihood L_h = max_β Σ_episodes Σ_valid steps log π_h,β(a_t|s_t);
- `loglik_per_step`: L_h / (number of valid steps);
- `posterior`: under a uniform prior over hypotheses, with the marginal likelihood over β
  approximated by BIC: log p(h | data) ∝ L_h − 0.5·log(steps)·d_h, where d_h = 1 for an
  objective (one fitted β) and 0 for `random`. Without the penalty a fitted objective can never
  lose to `random` (β = 0 is on its grid), so an agent that acts uniformly would be attributed a
  goal; with it, `random` wins unless an objective explains the actions better by more than
  0.5·log(steps) nats in total;
- bootstrap over episodes (resampled with replacement, β refitted in each resample, per-step
  log-likelihood and posterior recomputed): percentile intervals, and `support`, the share of
  resamples in which h has the highest posterior (exact ties, e.g. two objectives that agree on
  every level, split the share equally).

The log-likelihood table LL[k, β, episode] is computed once in JAX (jit, vmapped over levels, no
LAPACK); everything after it is NumPy over that table.
"""

from __future__ import annotations

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

LEVEL_CHUNK = 64
"""Levels evaluated together (vmapped) when building the log-likelihood table."""


def default_beta_grid() -> tuple[float, ...]:
    """β = 0 (uniform) plus 59 log-spaced values from 0.1 to 300."""
    return (0.0,) + tuple(float(b) for b in np.geomspace(0.1, 300.0, 59))


@dataclass(frozen=True)
class GoalInferenceConfig:
    """Settings of goal inference.

    Attributes:
        gamma: discount of the Boltzmann-rational planners' Q values.
        beta_grid: candidate rationalities β ≥ 0, fitted by maximum likelihood.
        bootstrap: number of bootstrap resamples over episodes (0: no intervals, support NaN).
        seed: seed of the bootstrap.
        iterations: value-iteration backups; None means `2 * world.max_steps`.
        confidence: coverage of the percentile intervals.
    """

    gamma: float = 0.9
    beta_grid: tuple[float, ...] = field(default_factory=default_beta_grid)
    bootstrap: int = 500
    seed: int = 0
    iterations: int | None = None
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        grid = np.asarray(self.beta_grid, float)
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError("beta_grid must be a non-empty sequence of finite values >= 0")
        if self.bootstrap < 0:
            raise ValueError(f"bootstrap must be >= 0, got {self.bootstrap}")
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")


@dataclass(frozen=True, eq=False)
class GoalInference:
    """Goal inference for one batch of episodes; arrays are indexed like `hypotheses`.

    Attributes:
        hypotheses: the world's objectives (intended first), then `random`.
        beta: fitted β per hypothesis (0 for `random`, which is the β = 0 policy).
        loglik: maximised total log-likelihood per hypothesis.
        loglik_per_step, loglik_low, loglik_high: per valid step, with a bootstrap interval.
        posterior, posterior_low, posterior_high: BIC posterior, with a bootstrap interval.
        support: share of bootstrap resamples in which the hypothesis has the highest posterior.
        steps: number of valid steps (actions) explained.
        episodes: number of episodes.
        penalty: the BIC penalty 0.5·log(steps) charged to each fitted hypothesis.
    """

    hypotheses: tuple[str, ...]
    beta: np.ndarray
    loglik: np.ndarray
    loglik_per_step: np.ndarray
    loglik_low: np.ndarray
    loglik_high: np.ndarray
    posterior: np.ndarray
    posterior_low: np.ndarray
    posterior_high: np.ndarray
    support: np.ndarray
    steps: int
    episodes: int
    penalty: float

    def index(self, hypothesis: str) -> int:
        """Position of `hypothesis` in `hypotheses` (ValueError if unknown)."""
        if hypothesis not in self.hypotheses:
            raise ValueError(f"unknown hypothesis {hypothesis!r}; hypotheses: {list(self.hypotheses)}")
        return self.hypotheses.index(hypothesis)

    @property
    def best(self) -> str:
        """The hypothesis with the highest posterior (the first one on an exact tie)."""
        return self.hypotheses[int(np.argmax(self.posterior))]


# ------------------------------------------------------------------------------ JAX part
@lru_cache(maxsize=32)
def _table_function(world: World, gamma: float, iterations: int):
    """A jitted function (levels, state_index, actions, valid, betas) -> LL (N, K, B)."""

    def one(level, state_index, actions, valid, betas):
        view = planning.tabulate(world, level)
        q = planning.normalised_q_values(view, gamma, iterations)[:, state_index]  # (K, T, A)
        logits = betas[None, :, None, None] * q[:, None]  # (K, B, T, A)
        logp = jax.nn.log_softmax(logits, axis=-1)
        chosen = jnp.take_along_axis(logp, actions[None, None, :, None], axis=-1)[..., 0]
        return jnp.sum(jnp.where(valid[None, None], chosen, 0.0), axis=-1)  # (K, B)

    def table(levels, state_index, actions, valid, betas):
        # vmapped within chunks of levels, chunks in sequence: memory stays O(chunk * K * B * T * A)
        return jax.lax.map(lambda xs: one(*xs, betas), (levels, state_index, actions, valid), batch_size=LEVEL_CHUNK)

    return jax.jit(table)


def loglik_table(world: World, levels: Level, episodes: Episodes, config: GoalInferenceConfig) -> np.ndarray:
    """LL[k, b, n]: log-likelihood of episode n's actions under objective k at β = beta_grid[b].

    Episode n must have been played on level n of the batch `levels` (as `rollout` does)."""
    iterations = config.iterations if config.iterations is not None else 2 * world.max_steps
    fn = _table_function(world, float(config.gamma), int(iterations))
    betas = jnp.asarray(config.beta_grid, jnp.float32)
    table = fn(levels, jnp.asarray(episodes.state_index), jnp.asarray(episodes.actions), jnp.asarray(episodes.valid), betas)
    return np.moveaxis(np.asarray(table, np.float64), 0, -1)


# ---------------------------------------------------------------------------- NumPy part
def _fit(totals: np.ndarray, steps: np.ndarray, num_actions: int) -> tuple[np.ndarray, np.ndarray]:
    """Maximised log-likelihoods (..., H) and best β indices (..., K) from totals (..., K, B)."""
    best = np.argmax(totals, axis=-1)
    fitted = np.take_along_axis(totals, best[..., None], axis=-1)[..., 0]
    random = -np.asarray(steps, float) * np.log(num_actions)
    return np.concatenate([fitted, np.asarray(random)[..., None]], axis=-1), best


def _posterior(loglik: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """BIC posterior (..., H) under a uniform prior; the last hypothesis (`random`) is unpenalised."""
    penalty = 0.5 * np.log(np.maximum(np.asarray(steps, float), 1.0))
    logpost = loglik.copy()
    logpost[..., :-1] -= np.asarray(penalty)[..., None]
    logpost -= logpost.max(axis=-1, keepdims=True)
    weights = np.exp(logpost)
    return weights / weights.sum(axis=-1, keepdims=True)


def _support(loglik: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Share of rows (resamples) in which each hypothesis has the highest log-posterior."""
    penalty = 0.5 * np.log(np.maximum(steps, 1.0))
    logpost = loglik.copy()
    logpost[:, :-1] -= penalty[:, None]
    winners = logpost >= logpost.max(axis=1, keepdims=True) - TIE_TOLERANCE
    return (winners / winners.sum(axis=1, keepdims=True)).mean(axis=0)


def infer_from_table(
    table: np.ndarray,
    steps_per_episode: np.ndarray,
    objectives: tuple[str, ...],
    num_actions: int,
    config: GoalInferenceConfig,
) -> GoalInference:
    """Goal inference from a log-likelihood table LL[k, β, episode] (see `loglik_table`)."""
    table = np.asarray(table, float)
    steps_per_episode = np.asarray(steps_per_episode, float)
    num_objectives, num_betas, count = table.shape
    if num_objectives != len(objectives) or num_betas != len(config.beta_grid):
        raise ValueError(f"table shape {table.shape} does not match {len(objectives)} objectives and {len(config.beta_grid)} betas")
    if count == 0 or steps_per_episode.sum() <= 0:
        raise ValueError("goal inference needs at least one episode with at least one step")
    grid = np.asarray(config.beta_grid, float)
    steps = steps_per_episode.sum()

    loglik, best = _fit(table.sum(-1), steps, num_actions)
    posterior = _posterior(loglik, steps)
    per_step = loglik / steps
    beta = np.concatenate([grid[best], [0.0]])

    if config.bootstrap > 0:
        rng = np.random.default_rng(config.seed)
        counts = rng.multinomial(count, np.full(count, 1.0 / count), size=config.bootstrap).astype(float)
        boot_totals = np.einsum("rn,kbn->rkb", counts, table)
        boot_steps = counts @ steps_per_episode
        boot_loglik, _ = _fit(boot_totals, boot_steps, num_actions)
        boot_per_step = boot_loglik / np.maximum(boot_steps, 1.0)[:, None]
        boot_posterior = _posterior(boot_loglik, boot_steps)
        tail = 100 * (1 - config.confidence) / 2
        ll_low, ll_high = np.percentile(boot_per_step, [tail, 100 - tail], axis=0)
        post_low, post_high = np.percentile(boot_posterior, [tail, 100 - tail], axis=0)
        support = _support(boot_loglik, boot_steps)
    else:
        ll_low, ll_high, post_low, post_high = per_step, per_step, posterior, posterior
        support = np.full(len(objectives) + 1, np.nan)

    return GoalInference(
        hypotheses=tuple(objectives) + (RANDOM,),
        beta=beta,
        loglik=loglik,
        loglik_per_step=per_step,
        loglik_low=np.asarray(ll_low),
        loglik_high=np.asarray(ll_high),
        posterior=posterior,
        posterior_low=np.asarray(post_low),
        posterior_high=np.asarray(post_high),
        support=support,
        steps=int(round(steps)),
        episodes=int(count),
        penalty=float(0.5 * np.log(steps)),
    )


def infer_goals(world: World, levels: Level, episodes: Episodes, config: GoalInferenceConfig | None = None) -> GoalInference:
    """Which of the world's objectives (or `random`) best explains the actions in `episodes`.

    Args:
        world: the world the episodes were played in.
        levels: the batch of N levels, episode n played on level n.
        episodes: `rollout` output with state_index, actions and valid of shape (N, T).
        config: settings; defaults to `GoalInferenceConfig()`.
    """
    config = config if config is not None else GoalInferenceConfig()
    if RANDOM in world.objectives:
        raise ValueError(f"an objective may not be named {RANDOM!r}: it is the uniform-random hypothesis")
    table = loglik_table(world, levels, episodes, config)
    steps_per_episode = np.asarray(episodes.valid).sum(-1)
    return infer_from_table(table, steps_per_episode, world.objectives, world.num_actions, config)


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
