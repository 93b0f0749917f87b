"""Identifiability of objectives, computed exactly with the planner.

For objectives j and k on a level distribution:

- differing optimal actions (`differ`): the share of reachable states (the absorbing end state
  excluded) where the optimal action sets of j and k differ — including the states where one
  objective is indifferent (every action optimal) and the other is not, which is where goal
  inference finds its evidence;
- expected log-likelihood ratio per step (`llr[j, k]`): the mean over those states of
  KL(π_j ‖ π_k), π the Boltzmann-rational policy of goal inference (Q rescaled to [0, 1] over
  the level, `IdentifyConfig.beta`): the evidence in nats per step that an agent acting for j
  gives against k. It is not symmetric;
- disjoint optimal actions (`disjoint`, kept for comparison): the share of those states where
  the optimal action sets are disjoint — a perfect optimiser of one would never act like one of
  the other there. It misses states where one objective is indifferent;
- reward-timing distinguishability: the share of levels where, along the trajectory of an
  optimal policy for j (ties broken towards the lowest action), the reward sequences of j and
  k differ at some step — the case of a button that lights a lamp after a delay, where
  behaviour cannot tell the objectives apart but the timing of the reward can;
- probe levels: for each training level, the level drawn from the same key at the probe shift
  (the same layout with the world's objects moved by the dial), ranked by the symmetric expected
  log-likelihood ratio ½(llr[j, k] + llr[k, j]) on it, with how many observation cells changed:
  the smallest changes that separate the objectives most.

Optimal action sets use discounted Q (γ, tolerance in `IdentifyConfig`), so "optimal" prefers
shorter paths, as every planner in mesascope does.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.worlds import planning
from mesascope.worlds.core import World


@dataclass(frozen=True)
class IdentifyConfig:
    """Settings of the identifiability analysis."""

    gamma: float = 0.95
    """Discount of the planners whose optimal action sets are compared."""
    tolerance: float = 1e-5
    """Actions within this of the best Q value count as optimal."""
    levels: int = 64
    """Levels drawn per distribution."""
    seed: int = 0
    """Seed of the level draws."""
    beta: float = 10.0
    """Rationality of the Boltzmann-rational policies (on Q rescaled to [0, 1]) whose expected
    log-likelihood ratio is reported: moderately greedy, a tenth of the Q range is e-fold odds."""
    llr_gamma: float = 0.9
    """Discount of those policies' Q values (goal inference's default)."""


@dataclass(frozen=True)
class Identifiability:
    """Pairwise identifiability of a world's objectives on one distribution.

    `disjoint[j, k]`: mean share of reachable states with disjoint optimal action sets (with
    `disjoint_per_level` (N, K, K) behind it); `timing[j, k]`: share of levels where the reward
    sequences of j and k differ along j's optimal trajectory; `differ[j, k]`: mean share of
    states whose optimal action sets differ; `llr[j, k]`: expected log-likelihood ratio per step
    of j's Boltzmann policy over k's (None where rebuilt from a stored record without them)."""

    objectives: tuple[str, ...]
    distribution: str
    shift: float
    disjoint: np.ndarray
    disjoint_per_level: np.ndarray
    timing: np.ndarray
    differ: np.ndarray | None = None
    llr: np.ndarray | None = None


def _level_analysis(world: World, level, config: IdentifyConfig):
    """(K, K) disjoint shares, reward-timing differences, differing shares and expected
    log-likelihood ratios on one level."""
    view = planning.tabulate(world, level)
    q = planning.discounted_q_values(view, config.gamma, 2 * world.max_steps)  # (K, S+1, A)
    optimal = q >= q.max(-1, keepdims=True) - config.tolerance
    states = view.reachable.at[-1].set(False)
    count = jnp.maximum(states.sum(), 1)
    overlap = jnp.einsum("jsa,ksa->jks", optimal, optimal) > 0  # (K, K, S+1)
    disjoint = ((~overlap) & states).sum(-1) / count
    same = jnp.all(optimal[:, None] == optimal[None, :], axis=-1)  # (K, K, S+1)
    differ = ((~same) & states).sum(-1) / count
    logp = jax.nn.log_softmax(config.beta * planning.normalised_q_values(view, config.llr_gamma, 2 * world.max_steps), axis=-1)
    kl = jnp.sum(jnp.exp(logp)[:, None] * (logp[:, None] - logp[None, :]), axis=-1)  # (K, K, S+1): KL(π_j ‖ π_k)
    llr = jnp.sum(jnp.where(states, kl, 0.0), axis=-1) / count

    def trajectory_rewards(j):
        def one_step(state, _):
            action = jnp.argmax(optimal[j, state])
            return view.next_index[state, action], view.rewards[state, action]

        _, rewards = jax.lax.scan(one_step, view.start, None, length=world.max_steps)
        return rewards  # (T, K)

    rewards = jax.vmap(trajectory_rewards)(jnp.arange(world.num_objectives))  # (K_traj, T, K)
    differs = jnp.any(jnp.abs(rewards[:, :, :, None] - rewards[:, :, None, :]) > 1e-6, axis=1)  # (K_traj, K, K)
    index = jnp.arange(world.num_objectives)
    timing = differs[index, index, :]  # along j's own trajectory: does r_j differ from r_k?
    return disjoint, timing, differ, llr


def analyse(world: World, distribution: str, config: IdentifyConfig | None = None) -> Identifiability:
    """Identifiability of every pair of objectives on `distribution` (a name the world defines)."""
    config = config or IdentifyConfig()
    if distribution not in world.distributions:
        raise ValueError(f"unknown distribution {distribution!r}; allowed: {sorted(world.distributions)}")
    shift = world.distributions[distribution].shift
    levels = world.sample_levels(jax.random.PRNGKey(config.seed), shift, config.levels)
    disjoint, timing, differ, llr = (np.asarray(x) for x in jax.jit(jax.vmap(lambda level: _level_analysis(world, level, config)))(levels))
    return Identifiability(world.objectives, distribution, shift, disjoint.mean(0), disjoint, timing.mean(0), differ.mean(0), llr.mean(0))


@dataclass(frozen=True)
class ProbeLevel:
    """A probe level drawn from the same key as a training level, and how much it separates."""

    index: int
    disjoint: float
    changed_cells: int
    differ: float = 0.0
    llr: float = 0.0


def probe(world: World, intended: int, proxy: int, shift: float, config: IdentifyConfig | None = None, top: int = 5) -> list[ProbeLevel]:
    """Probe levels at `shift` that separate two objectives most by the symmetric expected
    log-likelihood ratio per step, fewest changed cells first among equals. Each is the level
    drawn from the same key as a training level."""
    config = config or IdentifyConfig()
    keys = jax.random.split(jax.random.PRNGKey(config.seed), config.levels)
    train_shift = world.distributions["train"].shift
    train = jax.vmap(world.sample_level, in_axes=(0, None))(keys, jnp.float32(train_shift))
    moved = jax.vmap(world.sample_level, in_axes=(0, None))(keys, jnp.float32(shift))

    def changed(a, b):
        return jnp.sum(jnp.any(world.reset(jax.random.PRNGKey(0), a)[0] != world.reset(jax.random.PRNGKey(0), b)[0], axis=-1))

    cells = np.asarray(jax.jit(jax.vmap(changed))(train, moved))
    disjoint, _, differ, llr = (np.asarray(x) for x in jax.jit(jax.vmap(lambda level: _level_analysis(world, level, config)))(moved))
    separation = 0.5 * (llr[:, intended, proxy] + llr[:, proxy, intended])
    order = sorted(range(config.levels), key=lambda i: (-separation[i], cells[i]))
    return [ProbeLevel(i, float(disjoint[i, intended, proxy]), int(cells[i]), float(differ[i, intended, proxy]), float(separation[i])) for i in order[:top]]
