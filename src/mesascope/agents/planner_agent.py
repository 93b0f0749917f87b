"""The planner agent: exact value iteration on the current level (the hard-coded optimizer).

It is the scripted expert of the laboratory: the agent that pursues a known objective
perfectly (or Boltzmann-noisily), the teacher for imitation and the reference behaviour for goal
inference. At every step it tabulates the level it is playing with the world's own
`transition` (`planning.tabulate`), runs `horizon` discounted backups of the weighted objective
`sum_k weights[k] * r_k`, and acts on the resulting Q values of its current state:

- `temperature == 0`: greedily, ties broken uniformly at random with the step's key;
- `temperature > 0`: by sampling from `softmax(Q / temperature)` (Q in reward units);
- `lapse > 0`: with probability `lapse` it ignores the plan and acts uniformly at random (a
  mistake as likely where it is costly as where it is cheap).

The policy reads only the state (levels, positions), never the observation, and is jittable and
vmappable, so it runs inside `diagnose.rollout.rollout` like any learned policy. Re-planning at
every step costs one tabulation per step; on the small worlds here that is cheap, and it keeps
the policy a pure function of (key, obs, state).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.diagnose.rollout import Policy
from mesascope.worlds import planning
from mesascope.worlds.core import Level, State, World

TIE_TOLERANCE = 1e-6
"""Q values within this of the best are treated as tied (float32 backups of equal paths)."""


def objective_weights(world: World, objective: str) -> np.ndarray:
    """The one-hot weight vector (K,) that scores only `objective`."""
    if objective not in world.objectives:
        raise ValueError(f"unknown objective {objective!r} of world {world.name!r}; objectives: {list(world.objectives)}")
    weights = np.zeros(world.num_objectives, np.float32)
    weights[world.objectives.index(objective)] = 1.0
    return weights


def planner_q_values(world: World, level: Level, weights: jax.Array, gamma: float, horizon: int) -> jax.Array:
    """Discounted Q values (S+1, A) of the weighted objective on `level` after `horizon` backups."""
    view = planning.tabulate(world, level)
    weighted = view.replace(rewards=(view.rewards @ weights)[..., None])
    return planning.discounted_q_values(weighted, gamma, horizon)[0]


def planner_policy(
    world: World,
    weights: jax.Array | np.ndarray,
    gamma: float = 0.95,
    horizon: int | None = None,
    temperature: float = 0.0,
    lapse: float = 0.0,
) -> Policy:
    """A policy that plans exactly for the objective `weights @ objective_rewards`.

    Args:
        world: the world it plays.
        weights: (K,) weights over the world's objectives (one-hot for a single objective).
        gamma: discount of the planner (in (0, 1]).
        horizon: number of value-iteration backups; defaults to `world.max_steps`.
        temperature: 0 for greedy (random tie-breaking), else the Boltzmann temperature on Q.
        lapse: probability in [0, 1] of a uniformly random action instead of the planned one.

    Returns:
        A `Policy` (key, obs, state) -> int32 action, jittable and vmappable.
    """
    weights = jnp.asarray(weights, jnp.float32)
    if weights.shape != (world.num_objectives,):
        raise ValueError(f"weights must have shape ({world.num_objectives},), got {weights.shape}")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0.0 <= lapse <= 1.0:
        raise ValueError(f"lapse must be in [0, 1], got {lapse}")
    horizon = world.max_steps if horizon is None else int(horizon)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")

    def policy(key: jax.Array, obs: jax.Array, state: State) -> jax.Array:
        del obs
        q = planner_q_values(world, state.level, weights, gamma, horizon)[world.state_index(state)]
        if temperature > 0:
            logits = q / temperature
        else:
            logits = jnp.where(q >= q.max() - TIE_TOLERANCE, 0.0, -jnp.inf)
        if lapse == 0.0:  # keep the exact planner's key use (and its episodes) unchanged
            return jax.random.categorical(key, logits).astype(jnp.int32)
        plan_key, lapse_key, uniform_key = jax.random.split(key, 3)
        planned = jax.random.categorical(plan_key, logits).astype(jnp.int32)
        uniform = jax.random.randint(uniform_key, (), 0, world.num_actions).astype(jnp.int32)
        return jnp.where(jax.random.uniform(lapse_key) < lapse, uniform, planned)

    return policy


def planner_for(world: World, objective: str, **kwargs: float | int | None) -> Policy:
    """`planner_policy` for a single named objective; keyword arguments as `planner_policy`."""
    return planner_policy(world, objective_weights(world, objective), **kwargs)
