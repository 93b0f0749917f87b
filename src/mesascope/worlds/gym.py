"""Gymnasium adapter: any registered world, on one of its level distributions, as a `gymnasium.Env`.

    import gymnasium  # once mesascope is installed, this registers mesascope/<Name>-v0 for every world

    env = gymnasium.make("mesascope/Coin-v0", distribution="test", world_options={"size": 7})
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    info["objective_rewards"]  # {"coin": 0.0, "exit": 0.0}: every objective, every step

Registration needs no mesascope import (see `mesascope.gym_plugin`); importing this module also
registers, and `gymnasium.make("mesascope.worlds.gym:mesascope/Coin-v0")` works where the import
hook is turned off. `gymnasium.make_vec(id, num_envs=N)` gives the native batched
`mesascope.worlds.gym_vector.MesascopeVectorEnv`.

The reward is a weighted sum of the world's objectives, one-hot on the intended objective by
default (`reward_weights`). The world itself truncates episodes at its `max_steps`, so the ids
are registered without a `TimeLimit`. One environment steps one level at a time, for the
Gymnasium ecosystem; for speed use the world's own jitted, vmapped `step`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from mesascope import gym_plugin
from mesascope.worlds import registry
from mesascope.worlds.core import State, World

ENTRY_POINT = gym_plugin.ENTRY_POINT

FORK_ERROR = (
    "mesascope worlds cannot run in a process forked after JAX started: JAX is multithreaded and "
    "the forked copy would hang. Use the native vector env (gymnasium.make_vec(id, num_envs=N), the "
    "default and much faster), or a spawn/forkserver start method: gymnasium.make_vec(id, num_envs=N, "
    "vectorization_mode='async', vector_kwargs={'context': 'spawn'}) or AsyncVectorEnv(fns, context='spawn')"
)
_forked = False
_COMPILED: dict[str, tuple[Any, Any, Any]] = {}
"""Jitted (reset, step, render) per environment signature, shared across instances."""


def _mark_forked() -> None:
    global _forked
    _forked = True


# JAX starts its threads when this module is imported (worlds build arrays at import), so any
# process forked from here on inherits a runtime that would deadlock; such a process is refused.
os.register_at_fork(after_in_child=_mark_forked)


def check_not_forked() -> None:
    """Raise RuntimeError (FORK_ERROR) in a process forked after mesascope's JAX started."""
    if _forked:
        raise RuntimeError(FORK_ERROR)


class MesascopeEnv(gymnasium.Env):
    """A mesascope world as a Gymnasium environment.

    Args:
        world: registered world name (see `mesascope.worlds.names()`).
        distribution: the level distribution episodes are drawn from, e.g. 'train' or 'test'.
        world_options: keyword options of the world (see `mesascope.worlds.options(world)`).
        render_mode: None or 'rgb_array'.
        reward_weights: weights of the objectives in the reward: a mapping name -> weight
            (missing names weigh 0) or one weight per objective; default one-hot on the
            intended objective.

    `step` returns info with `objective_rewards` (name -> float, this step's reward under every
    objective) and `episode_length`; `reset` returns the same keys with zero rewards.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(
        self,
        world: str = "coin",
        distribution: str = "train",
        world_options: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        reward_weights: Mapping[str, float] | Sequence[float] | None = None,
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        check_not_forked()
        self.world: World = registry.make(world, **dict(world_options or {}))
        if distribution not in self.world.distributions:
            raise ValueError(f"distribution must be one of {sorted(self.world.distributions)}, got {distribution!r}")
        self.world_name = world
        self.distribution = distribution
        self.shift = float(self.world.distributions[distribution].shift)
        self.reward_weights = reward_vector(self.world, reward_weights)
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 1, shape=tuple(self.world.observation_shape), dtype=np.uint8)
        self.action_space = spaces.Discrete(self.world.num_actions)
        # compiled once per (world, options, distribution, weights), shared by every copy of a
        # SyncVectorEnv; worlds are constants built from their options, so copies are interchangeable
        signature = repr((world, sorted(dict(world_options or {}).items()), distribution, self.reward_weights.tolist()))
        if signature not in _COMPILED:
            _COMPILED[signature] = (jax.jit(self._reset_pure), jax.jit(self._step_pure), jax.jit(self.world.render_state))
        self._reset_fn, self._step_fn, self._render_fn = _COMPILED[signature]
        self._key: jax.Array | None = None
        self._state: State | None = None
        self._shown: State | None = None  # the state the last action led to, before any reset

    # ------------------------------------------------------------------ pure, jitted parts
    def _reset_pure(self, key: jax.Array):
        key, level_key, start_key = jax.random.split(key, 3)
        level = self.world.sample_level(level_key, jnp.float32(self.shift))
        timestep = self.world.initial_timestep(start_key, level)
        return key, timestep.obs, timestep.state

    def _step_pure(self, key: jax.Array, state: State, action: jax.Array):
        key, step_key = jax.random.split(key)
        timestep = self.world.step(step_key, state, action, jnp.float32(self.shift))
        inner, _, _ = self.world.transition(state.level, state.inner, action)
        shown = State(level=state.level, inner=inner, time=timestep.info["episode_length"])
        reward = timestep.objective_rewards @ jnp.asarray(self.reward_weights)
        out = (timestep.final_obs, reward, timestep.objective_rewards, timestep.terminated, timestep.truncated, timestep.info)
        return key, out, timestep.state, shown

    # ---------------------------------------------------------------------- Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode on a level drawn from the distribution; returns (obs, info)."""
        super().reset(seed=seed)
        key = jax.random.key(int(self.np_random.integers(0, 2**31 - 1)))
        self._key, obs, self._state = self._reset_fn(key)
        self._shown = self._state
        zeros = np.zeros(self.world.num_objectives, np.float32)
        return np.array(obs), self._info(zeros, 0)

    def step(self, action):
        """Apply `action`; returns (obs, reward, terminated, truncated, info)."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an integer in [0, {self.world.num_actions}), got {action!r}")
        self._key, out, self._state, self._shown = self._step_fn(self._key, self._state, np.int32(action))
        obs, reward, objective_rewards, terminated, truncated, info = jax.device_get(out)
        return np.array(obs), float(reward), bool(terminated), bool(truncated), self._info(objective_rewards, info["episode_length"])

    def render(self):
        """An RGB picture (uint8, (h, w, 3)) of the current state, in 'rgb_array' mode."""
        if self.render_mode is None or self._shown is None:
            return None
        return np.array(self._render_fn(self._shown))

    @property
    def state(self) -> State | None:
        """The world state the next action applies to (a pytree; None before the first reset)."""
        return self._state

    def _info(self, objective_rewards: np.ndarray, episode_length) -> dict[str, Any]:
        return {
            "objective_rewards": {name: float(value) for name, value in zip(self.world.objectives, objective_rewards)},
            "episode_length": int(episode_length),
        }


def reward_vector(world: World, weights: Mapping[str, float] | Sequence[float] | None) -> np.ndarray:
    """The objective weights of the reward as a (K,) float32 vector (one-hot intended by default)."""
    if weights is None:
        vector = np.zeros(world.num_objectives, np.float32)
        vector[0] = 1.0
        return vector
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(world.objectives))
        if unknown:
            raise ValueError(f"reward_weights names unknown objective(s) {unknown}; objectives: {list(world.objectives)}")
        return np.array([float(weights.get(name, 0.0)) for name in world.objectives], np.float32)
    vector = np.asarray(weights, np.float32)
    if vector.shape != (world.num_objectives,):
        raise ValueError(f"reward_weights needs one weight per objective {list(world.objectives)}, got shape {vector.shape}")
    return vector


def env_id(world_name: str) -> str:
    """The Gymnasium id of a world: 'coin' -> 'mesascope/Coin-v0', 'key_door' -> 'mesascope/KeyDoor-v0'."""
    return gym_plugin.env_id(world_name)


def register_all() -> list[str]:
    """Register `mesascope/<Name>-v0` for every world in the registry (idempotent); return the ids."""
    return gym_plugin.register(tuple(registry.names()))


register_all()
