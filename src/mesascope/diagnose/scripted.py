"""Scripted agents of known goal played on exact planner tables: fast episodes for known answers.

`scripted_episodes` plays one episode per level of a batch of tabular views
(`planning.tabulate`, vmapped), choosing actions from the exact discounted Q of a weighted
objective (value iteration once per level, not per step) and stepping the tabular dynamics. For
a deterministic world these are the episodes `rollout.rollout` records for the same behaviour
(state indices, actions, validity, objective returns), at a fraction of the cost of
`planner_agent.planner_policy`, which re-plans at every step. Behaviours:

- `exact`: greedy on Q, ties within 1e-6 broken uniformly at random;
- `boltzmann`: softmax of β·Q̃, Q̃ the Q rescaled to [0, 1] over the level's reachable states;
- `uniform`: uniformly random actions;

each with a lapse rate: with probability `lapse` a uniformly random action instead.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from mesascope.diagnose.rollout import Episodes
from mesascope.worlds import planning
from mesascope.worlds.core import World

KINDS = ("exact", "boltzmann", "uniform")
"""Behaviours `scripted_episodes` can play."""


def weighted_q(view: planning.TabularView, weights: jax.Array, gamma: float, horizon: int, scaled: bool | jax.Array) -> jax.Array:
    """(S+1, A) discounted Q of Σ_k weights[k]·r_k; `scaled` first divides each objective's
    reward by the spread of its optimal Q on the level (weights as shares of normalised value,
    as goal inference's mixture hypotheses define them)."""
    raw = planning.discounted_q_values(view, gamma, horizon)
    mask = view.reachable[None, :, None]
    span = jnp.max(jnp.where(mask, raw, -jnp.inf), axis=(1, 2)) - jnp.min(jnp.where(mask, raw, jnp.inf), axis=(1, 2))
    scale = jnp.where(span > 1e-6, 1.0 / jnp.where(span > 1e-6, span, 1.0), 0.0)
    weights = jnp.where(scaled, weights * scale, weights)
    weighted = view.replace(rewards=(view.rewards @ weights)[..., None])
    return planning.discounted_q_values(weighted, gamma, horizon)[0]


def _play(world: World, view: planning.TabularView, q: jax.Array, key: jax.Array, kind: jax.Array, lapse: jax.Array, beta: jax.Array):
    """One episode on one tabular level."""
    end = view.num_states - 1
    low = jnp.min(jnp.where(view.reachable[:, None], q, jnp.inf))
    high = jnp.max(jnp.where(view.reachable[:, None], q, -jnp.inf))
    scaled = jnp.where(high - low > 1e-6, (q - low) / jnp.where(high - low > 1e-6, high - low, 1.0), 0.0)

    def step(carry, step_key):
        state, alive = carry
        k1, k2, k3 = jax.random.split(step_key, 3)
        row = q[state]
        # one compiled function for every behaviour: `kind` indexes KINDS
        exact = jnp.where(row >= row.max() - 1e-6, 0.0, -jnp.inf)
        logits = jnp.where(kind == 0, exact, jnp.where(kind == 1, beta * scaled[state], jnp.zeros_like(row)))
        action = jax.random.categorical(k1, logits)
        action = jnp.where(jax.random.uniform(k2) < lapse, jax.random.randint(k3, (), 0, world.num_actions), action)
        nxt = view.next_index[state, action]
        reward = view.rewards[state, action] * alive
        return (nxt, alive & (nxt != end)), (state, action, alive, reward, alive & (nxt == end))

    _, (states, actions, valid, rewards, ended) = jax.lax.scan(step, (view.start, jnp.bool_(True)), jax.random.split(key, world.max_steps))
    return states, actions.astype(jnp.int32), valid, rewards.sum(0), ended.any()


@partial(jax.jit, static_argnames=("world",))
def _episodes(world, views, weights, gamma, lapse, beta, key, kind, scaled):
    q = jax.vmap(lambda view: weighted_q(view, weights, gamma, world.max_steps, scaled))(views)
    keys = jax.random.split(key, q.shape[0])
    return jax.vmap(lambda v, qq, k: _play(world, v, qq, k, kind, lapse, beta))(views, q, keys)


def scripted_episodes(
    world: World,
    views: planning.TabularView,
    weights,
    key: jax.Array,
    kind: str = "exact",
    gamma: float = 0.95,
    lapse: float = 0.0,
    beta: float = 20.0,
    scaled: bool = False,
) -> Episodes:
    """Episodes of a scripted agent for `weights` (K,) on each level of the batched `views`.

    Args:
        world: the world of the levels.
        views: `planning.tabulate` of each level, batched (vmap).
        weights: weights over the world's objectives (negative weights: avoid an objective).
        key: random key of the episodes.
        kind: one of `KINDS`.
        gamma: the agent's discount.
        lapse: probability of a uniformly random action at each step.
        beta: rationality of `boltzmann` on Q rescaled to [0, 1].
        scaled: weights as shares of normalised value (see `weighted_q`).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not 0.0 <= lapse <= 1.0:
        raise ValueError(f"lapse must be in [0, 1], got {lapse}")
    states, actions, valid, returns, ended = _episodes(
        world, views, jnp.asarray(weights, jnp.float32), jnp.float32(gamma), jnp.float32(lapse), jnp.float32(beta), key, jnp.int32(KINDS.index(kind)), jnp.bool_(scaled)
    )
    return Episodes(objective_returns=returns, length=valid.sum(-1).astype(jnp.int32), terminated=ended, state_index=states, actions=actions, valid=valid)
