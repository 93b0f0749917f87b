"""Helpers for world authors' tests: replaying action strings on hand-drawn levels, rolling out
exact planners, and binomial intervals for checking a level sampler's statistics.

It sits above worlds, agents and diagnostics (it rolls out their planners), so no world imports
it; world test modules do.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.agents.planner_agent import planner_for
from mesascope.diagnose.rollout import rollout
from mesascope.worlds import ascii
from mesascope.worlds.core import Level, State, World


@functools.cache
def jitted(world: World, method: str) -> Callable[..., Any]:
    """`jax.jit` of the bound method `method` of `world`, cached per world and method."""
    return jax.jit(getattr(world, method))


def agent_cell(inner: Any) -> tuple[int, ...]:
    """The agent's cell of an inner state as a tuple of ints: `inner.position` where the inner
    state has one, else the inner state itself (worlds whose inner state is the position)."""
    position = getattr(inner, "position", inner)
    return tuple(int(v) for v in position)


class Replay(NamedTuple):
    """What `replay` returns; T is the number of actions played."""

    returns: np.ndarray
    """(K,) summed objective rewards."""
    rewards: np.ndarray
    """(T, K) objective rewards of every step."""
    terminated: np.ndarray
    """(T,) bool."""
    truncated: np.ndarray
    """(T,) bool."""
    episode_length: np.ndarray
    """(T,) the clock after every step."""
    states: list[State]
    """The state after each step that did not end the episode."""
    positions: list[tuple[int, ...]]
    """The agent's cell after each step that did not end the episode."""
    moved_to: list[tuple[int, ...]]
    """The agent's cell each action led to, ending steps included (before any auto-reset)."""


def replay(world: World, level: Level, actions: str, letters: str = "URDL", shift: float = 0.0) -> Replay:
    """Play the action string `actions` (one letter per action, letter i of `letters` being
    action i; spaces are ignored) from the start of `level`, with the auto-resetting `step`.

    Step i uses the key `jax.random.key(i)` and `shift` for any auto-reset. The actions must
    not go on after the episode ended (an AssertionError says where they do)."""
    step, transition = jitted(world, "step"), jitted(world, "transition")
    _, state = jitted(world, "reset")(jax.random.key(0), level)
    rewards, terminated, truncated, lengths, states, positions, moved_to = [], [], [], [], [], [], []
    for i, letter in enumerate(actions.replace(" ", "")):
        assert not (terminated and (terminated[-1] or truncated[-1])), f"moves go on after the episode ended at {i}"
        action = jnp.int32(letters.index(letter))
        moved_to.append(agent_cell(transition(state.level, state.inner, action)[0]))
        timestep = step(jax.random.key(i), state, action, shift)
        rewards.append(np.asarray(timestep.objective_rewards))
        terminated.append(bool(timestep.terminated))
        truncated.append(bool(timestep.truncated))
        lengths.append(int(timestep.info["episode_length"]))
        if not timestep.done:
            states.append(timestep.state)
            positions.append(agent_cell(timestep.state.inner))
        state = timestep.state
    rewards = np.array(rewards).reshape(-1, world.num_objectives)
    return Replay(
        rewards.sum(0), rewards, np.array(terminated), np.array(truncated), np.array(lengths), states, positions, moved_to
    )


def planner_returns(world: World, objective: str, levels: Level, key: jax.Array, **planner_kwargs: Any) -> np.ndarray:
    """Objective returns (L, K) of one episode of the exact planner for `objective` on each of
    the batched `levels`; `planner_kwargs` go to `planner_for` (e.g. `horizon`, `gamma`)."""
    policy = planner_for(world, objective, **planner_kwargs)
    play = jax.jit(lambda batch, k: rollout(world, policy, batch, k).objective_returns)
    return np.asarray(play(levels, key))


def planner_intended_return(world: World, objective: str, levels: Level, key: jax.Array, **planner_kwargs: Any) -> float:
    """Mean intended return of the exact planner for `objective` over the batched `levels`."""
    return float(planner_returns(world, objective, levels, key, **planner_kwargs)[:, 0].mean())


def binomial_interval(n: int, p: float, confidence: float) -> tuple[int, int]:
    """The central interval [lo, hi] holding at least `confidence` of Binomial(n, p)."""
    log_pmf = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p) for k in range(n + 1)]
    cdf = np.cumsum(np.exp(log_pmf))
    tail = (1 - confidence) / 2
    return int(np.searchsorted(cdf, tail)), int(np.searchsorted(cdf, 1 - tail))


def dust_room_level(level_class: type, art: str, extra: str, letter: str, max_dust: int = 4) -> Any:
    """A dust-room level (cleaning, vacuum) drawn as ASCII art: '#' wall, 'A' the start, 'd'
    dust, `letter` the extra object named `extra`. Dust slots are filled in row-major order;
    unused slots (and a missing extra object) sit on the start cell, absent."""
    masks = ascii.parse(art, {"#": "wall", ".": None, "A": "agent_start", "d": "dust", letter: extra})
    dust = np.argwhere(masks["dust"]).astype(np.int32)
    start = ascii.cell(masks["agent_start"])
    slots = np.concatenate([dust, np.repeat(start[None], max_dust - len(dust), 0)])
    present = bool(masks[extra].any())
    return level_class(
        jnp.asarray(masks["wall"]),
        jnp.asarray(start),
        jnp.asarray(slots),
        jnp.asarray(np.arange(max_dust) < len(dust)),
        jnp.asarray(ascii.cell(masks[extra]) if present else start),
        jnp.asarray(present),
    )
