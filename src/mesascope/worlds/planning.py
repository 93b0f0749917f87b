"""The exact tabular view of a level, built from the world's own `transition`, and value iteration.

`tabulate` enumerates the world's candidate states on a level, applies every action to every
one of them with the world's own `transition` (so no world writes a second copy of its
dynamics), and records successor indices, per-objective rewards and termination. One extra
absorbing state (index S) stands for "the episode has ended". Everything is jittable and
vmappable over levels. Dynamics are assumed deterministic given (state, action); every world in
the catalogue so far is.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from mesascope.worlds.core import Level, World


class TabularView(struct.PyTreeNode):
    """A level as a finite deterministic MDP with one reward vector per transition.

    Attributes:
        next_index: (S+1, A) successor of every state and action; S is the absorbing end state.
        rewards: (S+1, A, K) reward under each objective.
        start: index of the start state.
        reachable: (S+1,) states reachable from the start within the step limit.
    """

    next_index: jax.Array
    rewards: jax.Array
    start: jax.Array
    reachable: jax.Array

    @property
    def num_states(self) -> int:
        """S + 1, including the absorbing end state."""
        return self.next_index.shape[-2]


def tabulate(world: World, level: Level) -> TabularView:
    """The exact tabular view of `level` (jittable; vmap it over a batch of levels)."""
    inners = world.enumerate_inner(level)
    num = world.num_tabular_states
    actions = jnp.arange(world.num_actions)

    def apply(inner):
        def one(action):
            nxt, rewards, terminated = world.transition(level, inner, action)
            index = jnp.where(terminated, num, world.inner_index(level, nxt))
            return index, rewards

        return jax.vmap(one)(actions)

    next_index, rewards = jax.vmap(apply)(inners)
    absorbing_next = jnp.full((1, world.num_actions), num, jnp.int32)
    absorbing_rewards = jnp.zeros((1, world.num_actions, world.num_objectives), jnp.float32)
    next_index = jnp.concatenate([next_index.astype(jnp.int32), absorbing_next])
    rewards = jnp.concatenate([rewards.astype(jnp.float32), absorbing_rewards])
    start = world.inner_index(level, world.start(level))
    reachable = _reachable(next_index, start, world.max_steps)
    return TabularView(next_index=next_index, rewards=rewards, start=start, reachable=reachable)


def _reachable(next_index: jax.Array, start: jax.Array, horizon: int) -> jax.Array:
    """States reachable from `start` in at most `horizon` steps."""
    num_states, num_actions = next_index.shape
    initial = jnp.zeros(num_states, bool).at[start].set(True)

    def expand(_, reach):
        spread = jnp.zeros(num_states, bool).at[next_index.reshape(-1)].max(jnp.repeat(reach, num_actions))
        return reach | spread

    return jax.lax.fori_loop(0, horizon, expand, initial)


def finite_horizon_values(view: TabularView, horizon: int, weights: jax.Array | None = None, optimal: bool = True) -> jax.Array:
    """Undiscounted values with `horizon` steps left, (K, S+1) — or (S+1,) for a weight vector.

    With `optimal` the planner maximises; otherwise it averages over actions (the uniform
    random policy). `weights` (K,) scores a weighted sum of objectives instead of each one.
    """
    rewards = view.rewards if weights is None else (view.rewards @ weights)[..., None]
    rewards = jnp.moveaxis(rewards, -1, 0)  # (K, S+1, A)
    values = jnp.zeros(rewards.shape[:2], jnp.float32)

    def backup(_, values):
        q = rewards + values[:, view.next_index]
        return q.max(-1) if optimal else q.mean(-1)

    values = jax.lax.fori_loop(0, horizon, backup, values)
    return values[0] if weights is not None else values


def optimal_returns(world: World, view: TabularView) -> jax.Array:
    """G*_k: the best undiscounted return per objective from the start, within the step limit."""
    return finite_horizon_values(view, world.max_steps)[:, view.start]


def random_returns(world: World, view: TabularView) -> jax.Array:
    """G°_k: the expected return per objective of the uniform random policy, within the step limit."""
    return finite_horizon_values(view, world.max_steps, optimal=False)[:, view.start]


def discounted_q_values(view: TabularView, gamma: float, iterations: int) -> jax.Array:
    """Optimal discounted action values per objective, (K, S+1, A), by `iterations` backups."""
    rewards = jnp.moveaxis(view.rewards, -1, 0)
    values = jnp.zeros(rewards.shape[:2], jnp.float32)

    def backup(_, values):
        return (rewards + gamma * values[:, view.next_index]).max(-1)

    values = jax.lax.fori_loop(0, iterations, backup, values)
    return rewards + gamma * values[:, view.next_index]


def normalised_q_values(view: TabularView, gamma: float, iterations: int) -> jax.Array:
    """Discounted Q per objective rescaled to [0, 1] over the level's reachable states, so a
    Boltzmann temperature means the same for every objective. An objective that is constant on
    the level (nothing attainable) gets all zeros: every action is equally good."""
    q = discounted_q_values(view, gamma, iterations)
    mask = view.reachable[None, :, None]
    low = jnp.min(jnp.where(mask, q, jnp.inf), axis=(1, 2), keepdims=True)
    high = jnp.max(jnp.where(mask, q, -jnp.inf), axis=(1, 2), keepdims=True)
    span = high - low
    return jnp.where(span > 1e-6, (q - low) / jnp.where(span > 1e-6, span, 1.0), 0.0)


def bounded_q_values(view: TabularView, weights: jax.Array, gamma: jax.Array | float, horizon: jax.Array | int, cap: jax.Array | float) -> jax.Array:
    """Q values (S+1, A) of a bounded planner: it looks `horizon` steps ahead (the action's own
    step included, so `horizon - 1` backups) and values reward only up to `cap` per transition.

    The objective is `rewards @ weights`; each transition's reward is replaced by
    `min(reward, cap)` (`cap = inf`: no bound) before discounted backups. In a world where an
    episode earns at most one reward event (every catalogue world whose rewards terminate, such
    as detour), this is exactly the discounted value of `min(return, cap)`. `horizon` and `cap`
    may be traced, so hypotheses vmap (docs/decisions.md: bounded utility)."""
    rewards = jnp.minimum(view.rewards @ weights, cap)  # (S+1, A)
    values = jnp.zeros(rewards.shape[0], jnp.float32)

    def backup(_, values):
        return (rewards + gamma * values[view.next_index]).max(-1)

    values = jax.lax.fori_loop(0, jnp.maximum(horizon - 1, 0), backup, values)
    return rewards + gamma * values[view.next_index]
