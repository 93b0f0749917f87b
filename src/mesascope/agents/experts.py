"""Bounded planning experts: the teachers that imitation learners clone.

An expert is an exact planner (`worlds.planning.bounded_q_values`) declared by an `ExpertSpec`:
the objective it plans for, how many steps it looks ahead (`horizon`), its discount, its
Boltzmann temperature, and a bounded utility (`utility_cap`: it values each reward only up to
the cap; 0 means no cap). Like `planner_agent.planner_policy` it re-plans on the current level at
every step, reads the state rather than the observation, and is jittable and vmappable.

`check_expert` refuses specs a world cannot honour before any work: an unknown objective, a
horizon beyond the episode, or a cap the world's returns cannot exceed (such a cap bounds
nothing, so "imitating the bound" would be untestable).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.diagnose.rollout import Policy
from mesascope.fields import setting
from mesascope.worlds import planning
from mesascope.worlds.core import Level, State, World

TIE_TOLERANCE = 1e-6
"""Q values within this of the best are tied (float32 backups of equal paths)."""

CAP_CHECK_LEVELS = 128
"""Levels per distribution on which `check_expert` measures the largest attainable return."""


@dataclass(frozen=True)
class ExpertSpec:
    """A bounded planner to imitate (static config: one compiled program per value)."""

    objective: str = ""
    """Objective the expert plans for (a name of the world's objectives); empty: the world's first proxy (its second objective)."""
    horizon: int = setting(0, low=0, high=10_000)
    """Steps the expert looks ahead (the action's own step included); 0: the whole episode (`max_steps`)."""
    gamma: float = setting(0.95, low=0.0, high=1.0, low_open=True)
    """Discount of the expert's planning."""
    temperature: float = setting(0.0, low=0.0, high=100.0)
    """Boltzmann temperature on the expert's Q (reward units); 0: greedy, ties broken at random."""
    utility_cap: float = setting(0.0, low=0.0, high=1e6)
    """Bounded utility: the expert values each reward only up to this cap; 0: no cap."""


def expert_objective(world: World, spec: ExpertSpec) -> str:
    """The objective `spec` plans for (its default: the world's first proxy)."""
    if spec.objective:
        return spec.objective
    return world.objectives[1] if world.num_objectives > 1 else world.objectives[0]


def expert_horizon(world: World, spec: ExpertSpec) -> int:
    """The lookahead of `spec` in steps (0 means the whole episode)."""
    return world.max_steps if spec.horizon == 0 else int(spec.horizon)


def expert_cap(spec: ExpertSpec) -> float:
    """The utility cap as a number (inf when uncapped)."""
    return float("inf") if spec.utility_cap == 0 else float(spec.utility_cap)


def expert_weights(world: World, spec: ExpertSpec) -> np.ndarray:
    """The one-hot weight vector (K,) of the expert's objective."""
    weights = np.zeros(world.num_objectives, np.float32)
    weights[world.objectives.index(expert_objective(world, spec))] = 1.0
    return weights


def check_expert(world: World, spec: ExpertSpec, seed: int = 0) -> None:
    """Raise ValueError naming the field when `spec` cannot be honoured on `world`."""
    objective = expert_objective(world, spec)
    if objective not in world.objectives:
        raise ValueError(f"expert.objective must be one of {list(world.objectives)} (world {world.name!r}), got {objective!r}")
    if spec.horizon < 0 or spec.horizon > world.max_steps:
        raise ValueError(f"expert.horizon must be in [0, {world.max_steps}] (0: the whole episode of world {world.name!r}), got {spec.horizon}")
    if spec.utility_cap < 0:
        raise ValueError(f"expert.utility_cap must be >= 0 (0: no cap), got {spec.utility_cap}")
    if spec.utility_cap > 0:
        best = max_return(world, expert_weights(world, spec), seed)
        if not spec.utility_cap < best:
            raise ValueError(
                f"expert.utility_cap must be below the largest return of {objective!r} attainable on world {world.name!r} "
                f"({best:g} over {CAP_CHECK_LEVELS} levels of each distribution), else it bounds nothing; got {spec.utility_cap:g}"
            )


def max_return(world: World, weights: np.ndarray, seed: int = 0) -> float:
    """The largest single transition reward or optimal undiscounted return of `weights @ r`
    over `CAP_CHECK_LEVELS` levels of every distribution of `world` (one compiled program)."""
    weights = jnp.asarray(weights, jnp.float32)
    shifts = jnp.repeat(jnp.asarray([d.shift for d in world.distributions.values()], jnp.float32), CAP_CHECK_LEVELS)

    def one(key, shift):
        view = planning.tabulate(world, world.sample_level(key, shift))
        step = jnp.max(jnp.where(view.reachable[:, None], view.rewards @ weights, -jnp.inf))
        return jnp.maximum(step, planning.finite_horizon_values(view, world.max_steps, weights)[view.start])

    keys = jax.random.split(jax.random.PRNGKey(seed), shifts.shape[0])
    return float(jnp.max(jax.jit(jax.vmap(one))(keys, shifts)))


def expert_q(world: World, level: Level, spec: ExpertSpec) -> jax.Array:
    """The expert's Q values (S+1, A) on `level` (jittable)."""
    view = planning.tabulate(world, level)
    weights = jnp.asarray(expert_weights(world, spec))
    return planning.bounded_q_values(view, weights, spec.gamma, expert_horizon(world, spec), expert_cap(spec))


def expert_action_logits(world: World, spec: ExpertSpec, q: jax.Array) -> jax.Array:
    """Logits of the expert's action distribution from its Q values at a state (A,): the tied
    best actions (greedy) or `q / temperature`."""
    if spec.temperature > 0:
        return q / spec.temperature
    return jnp.where(q >= q.max() - TIE_TOLERANCE, 0.0, -jnp.inf)


def expert_policy(world: World, spec: ExpertSpec) -> Policy:
    """The expert as a `Policy` (key, obs, state) -> action; jittable and vmappable."""

    def policy(key: jax.Array, obs: jax.Array, state: State) -> jax.Array:
        del obs
        q = expert_q(world, state.level, spec)[world.state_index(state)]
        return jax.random.categorical(key, expert_action_logits(world, spec, q)).astype(jnp.int32)

    return policy


def expert_optimal_actions(world: World, spec: ExpertSpec, state: State) -> jax.Array:
    """(A,) bool: the actions the expert may take at `state` (its tied best ones; every action
    with positive probability when it has a temperature)."""
    q = expert_q(world, state.level, spec)[world.state_index(state)]
    return jnp.isfinite(expert_action_logits(world, spec, q))
