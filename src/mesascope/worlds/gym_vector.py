"""A native Gymnasium vector environment: the whole batch of a world steps in one jitted, vmapped call.

    import gymnasium
    envs = gymnasium.make_vec("mesascope/Coin-v0", num_envs=1024, distribution="test")
    obs, info = envs.reset(seed=0)                       # obs: (1024, H, W, C) uint8
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    info["objective_rewards"]["exit"]                    # (1024,) reward under each objective

`make_vec` picks this class by default (each id registers it as its `vector_entry_point`); it
takes the same keyword options as `MesascopeEnv` (`distribution`, `world_options`,
`reward_weights`, `render_mode`). Autoreset is Gymnasium's default `NEXT_STEP` mode, declared in
`metadata["autoreset_mode"]`: the step that ends an episode returns the episode's last
observation; the next step ignores that sub-environment's action and returns the first
observation of a fresh level with zero reward. `info` has the same keys as `SyncVectorEnv` over
`MesascopeEnv` gives (each with its `_`-prefixed mask).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mesascope.worlds import registry
from mesascope.worlds.core import State, World
from mesascope.worlds.gym import check_not_forked, reward_vector


class BatchedWorld:
    """A world's level distribution batched over `num_envs` copies: jitted reset and
    same-step-autoreset step (the world's own semantics), shared by the Gymnasium and SB3 adapters.

    Args:
        num_envs: batch size.
        world: registered world name.
        distribution: level distribution name ('train', 'test', ...).
        world_options: the world's keyword options.
        reward_weights: objective weights of the scalar reward (see `MesascopeEnv`).
    """

    def __init__(
        self,
        num_envs: int,
        world: str = "coin",
        distribution: str = "train",
        world_options: Mapping[str, Any] | None = None,
        reward_weights: Mapping[str, float] | Sequence[float] | None = None,
    ):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        check_not_forked()
        self.world: World = registry.make(world, **dict(world_options or {}))
        if distribution not in self.world.distributions:
            raise ValueError(f"distribution must be one of {sorted(self.world.distributions)}, got {distribution!r}")
        self.world_name = world
        self.distribution = distribution
        self.num_envs = int(num_envs)
        self.shift = float(self.world.distributions[distribution].shift)
        self.reward_weights = reward_vector(self.world, reward_weights)
        self.single_observation_space = spaces.Box(0, 1, shape=tuple(self.world.observation_shape), dtype=np.uint8)
        self.single_action_space = spaces.Discrete(self.world.num_actions)
        self.reset = jax.jit(self.reset_pure)
        self.step = jax.jit(self.step_pure)
        self.render = jax.jit(jax.vmap(self.world.render_state))

    def reset_pure(self, key: jax.Array) -> tuple[jax.Array, jax.Array, State]:
        """(next key, observations, states) of `num_envs` fresh episodes (pure; `reset` is it jitted)."""
        key, level_key = jax.random.split(key)
        keys = jax.random.split(level_key, self.num_envs)
        levels = jax.vmap(self.world.sample_level, in_axes=(0, None))(keys, jnp.float32(self.shift))
        timesteps = jax.vmap(self.world.initial_timestep)(keys, levels)
        return key, timesteps.obs, timesteps.state

    def step_pure(self, key: jax.Array, state: State, action: jax.Array):
        """One step of every copy; returns (next key, batched Timestep, scalar rewards) (pure;
        `step` is it jitted)."""
        key, step_key = jax.random.split(key)
        keys = jax.random.split(step_key, self.num_envs)
        timestep = jax.vmap(self.world.step, in_axes=(0, 0, 0, None))(keys, state, action, jnp.float32(self.shift))
        reward = timestep.objective_rewards @ jnp.asarray(self.reward_weights)
        return key, timestep, reward

    def check_actions(self, actions: Any) -> np.ndarray:
        """`actions` as an int32 (num_envs,) array; ValueError naming the allowed values otherwise."""
        array = np.asarray(actions)
        if array.shape != (self.num_envs,) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"actions must be {self.num_envs} integers, got shape {array.shape} dtype {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= self.world.num_actions):
            raise ValueError(f"actions must lie in [0, {self.world.num_actions}), got {array.min()}..{array.max()}")
        return array.astype(np.int32)

    def key_from(self, rng: np.random.Generator) -> jax.Array:
        """A JAX key drawn from a NumPy generator (the env's seeded `np_random`)."""
        return jax.random.key(int(rng.integers(0, 2**31 - 1)))

    def info(self, objective_rewards: np.ndarray, episode_length: np.ndarray) -> dict[str, Any]:
        """Batched info in SyncVectorEnv's layout: per objective (num_envs,) arrays, each key with its mask."""
        every = np.ones(self.num_envs, bool)
        rewards: dict[str, Any] = {}
        for index, name in enumerate(self.world.objectives):
            rewards[name] = np.asarray(objective_rewards[:, index], np.float64)
            rewards[f"_{name}"] = every
        return {
            "objective_rewards": rewards,
            "_objective_rewards": every,
            "episode_length": np.asarray(episode_length, np.int64),
            "_episode_length": every,
        }


class MesascopeVectorEnv(VectorEnv):
    """`num_envs` copies of a world as one Gymnasium `VectorEnv` (next-step autoreset).

    Args:
        num_envs: number of sub-environments.
        world, distribution, world_options, reward_weights: as for `MesascopeEnv`.
        render_mode: None or 'rgb_array' (`render()` returns a tuple of frames, one per copy).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        world: str = "coin",
        distribution: str = "train",
        world_options: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        reward_weights: Mapping[str, float] | Sequence[float] | None = None,
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.batch = BatchedWorld(num_envs, world, distribution, world_options, reward_weights)
        self.world = self.batch.world
        self.num_envs = self.batch.num_envs
        self.render_mode = render_mode
        self.single_observation_space = self.batch.single_observation_space
        self.single_action_space = self.batch.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._step_fn = jax.jit(self._next_step)
        self._key: jax.Array | None = None
        self._state: State | None = None
        self._obs: jax.Array | None = None
        self._autoreset = np.zeros(self.num_envs, bool)

    def _next_step(self, key, state, obs, autoreset, action):
        """The world's same-step autoreset turned into Gymnasium's next-step autoreset: a copy
        flagged `autoreset` already holds its fresh level, so it only reports it, with no reward."""
        key, timestep, reward = self.batch.step_pure(key, state, action)

        def keep(old, new):
            return jnp.where(autoreset.reshape(autoreset.shape + (1,) * (new.ndim - 1)), old, new)

        next_state = jax.tree.map(keep, state, timestep.state)
        next_obs = keep(obs, timestep.obs)
        shown_obs = keep(obs, timestep.final_obs)
        terminated = timestep.terminated & ~autoreset
        truncated = timestep.truncated & ~autoreset
        reward = jnp.where(autoreset, 0.0, reward)
        objective_rewards = keep(jnp.zeros_like(timestep.objective_rewards), timestep.objective_rewards)
        length = jnp.where(autoreset, 0, timestep.info["episode_length"])
        out = (shown_obs, reward, terminated, truncated, objective_rewards, length)
        return key, next_state, next_obs, out

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None):
        """Start every copy on a fresh level; returns (observations, info).

        `seed` is an int (or a list of ints, combined into one seed); `options` is not used."""
        if isinstance(seed, Sequence):
            seed = int(np.random.SeedSequence([int(s) for s in seed]).generate_state(1)[0])
        super().reset(seed=seed)
        self._key, self._obs, self._state = self.batch.reset(self.batch.key_from(self.np_random))
        self._autoreset = np.zeros(self.num_envs, bool)
        zeros = np.zeros((self.num_envs, self.world.num_objectives), np.float32)
        return np.asarray(self._obs), self.batch.info(zeros, np.zeros(self.num_envs, np.int64))

    def step(self, actions):
        """Step every copy; returns (observations, rewards, terminations, truncations, info)."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = self.batch.check_actions(actions)
        self._key, self._state, self._obs, out = self._step_fn(self._key, self._state, self._obs, self._autoreset, action)
        obs, reward, terminated, truncated, objective_rewards, length = jax.device_get(out)
        terminated, truncated = np.asarray(terminated), np.asarray(truncated)
        self._autoreset = terminated | truncated
        info = self.batch.info(objective_rewards, length)
        return np.asarray(obs), np.asarray(reward, np.float64), terminated, truncated, info

    def render(self):
        """A tuple of RGB frames (one per copy) of the states the next actions apply to."""
        if self.render_mode is None or self._state is None:
            return None
        return tuple(np.asarray(self.batch.render(self._state)))

    @property
    def state(self) -> State | None:
        """The batched world state the next actions apply to (None before the first reset)."""
        return self._state
