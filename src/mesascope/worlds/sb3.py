"""A world batch as a Stable-Baselines3 `VecEnv`, stepping every copy in one jitted, vmapped call.

    from stable_baselines3 import PPO
    from mesascope.worlds.sb3 import make_sb3_vec_env

    venv = make_sb3_vec_env("coin", num_envs=64, distribution="train")
    PPO("MlpPolicy", venv).learn(100_000)

SB3's VecEnv resets a finished copy in the same step and keeps the last observation in
`infos[i]["terminal_observation"]`; that is the world's own autoreset, so no extra step is
spent. `infos[i]["TimeLimit.truncated"]` marks truncations, and `infos[i]["objective_rewards"]`
holds the step's reward under every objective. This module imports without SB3 installed; making
the adapter then raises an ImportError that says how to install it (`torch==<version>` CPU
wheel first, then `stable-baselines3`: see tools/sb3_example.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from mesascope.worlds.gym_vector import BatchedWorld

try:
    from stable_baselines3.common.vec_env import VecEnv
except ImportError:  # SB3 is optional: the adapter class exists only where it is installed
    VecEnv = None

INSTALL_HINT = (
    "Stable-Baselines3 is not installed; install a CPU torch wheel first, then SB3 "
    "(`pip install torch==2.13.0 stable-baselines3`, see tools/sb3_example.py)"
)


def make_sb3_vec_env(
    world: str = "coin",
    num_envs: int = 8,
    distribution: str = "train",
    world_options: Mapping[str, Any] | None = None,
    reward_weights: Mapping[str, float] | Sequence[float] | None = None,
    seed: int = 0,
) -> Any:
    """`num_envs` copies of `world` on `distribution` as an SB3 VecEnv (options as `MesascopeEnv`)."""
    if VecEnv is None:
        raise ImportError(INSTALL_HINT)
    batch = BatchedWorld(num_envs, world, distribution, world_options, reward_weights)
    return MesascopeSB3VecEnv(batch, seed)


if VecEnv is not None:

    class MesascopeSB3VecEnv(VecEnv):
        """SB3 VecEnv over a `BatchedWorld` (same-step autoreset, as SB3 expects)."""

        def __init__(self, batch: BatchedWorld, seed: int = 0):
            self.batch = batch
            self.metadata = {"render_modes": ["rgb_array"], "render_fps": 8}
            self.render_mode = None
            self._key = jax.random.key(int(seed))
            self._state = None
            self._actions: np.ndarray | None = None
            super().__init__(batch.num_envs, batch.single_observation_space, batch.single_action_space)

        def reset(self) -> np.ndarray:
            """Start every copy on a fresh level (seeded by the last `seed()` call, if any)."""
            if self._seeds[0] is not None:
                self._key = jax.random.key(int(self._seeds[0]))
            self._reset_seeds()
            self._key, obs, self._state = self.batch.reset(self._key)
            self.reset_infos = [{} for _ in range(self.num_envs)]
            return np.array(obs)

        def step_async(self, actions: np.ndarray) -> None:
            """Store the actions for `step_wait`."""
            self._actions = self.batch.check_actions(np.asarray(actions).reshape(self.num_envs).astype(np.int64))

        def step_wait(self):
            """Step every copy; returns (obs, rewards, dones, infos) with SB3's autoreset keys."""
            if self._state is None:
                self.reset()
            self._key, timestep, reward = self.batch.step(self._key, self._state, self._actions)
            self._state = timestep.state
            obs, final_obs, rewards, terminated, truncated, objective_rewards = jax.device_get(
                (timestep.obs, timestep.final_obs, reward, timestep.terminated, timestep.truncated, timestep.objective_rewards)
            )
            # writable copies: SB3 adds bootstrapped values into the rewards in place
            obs, final_obs, rewards = np.array(obs), np.array(final_obs), np.array(rewards, np.float32)
            dones = np.asarray(terminated) | np.asarray(truncated)
            names = self.batch.world.objectives
            infos: list[dict[str, Any]] = []
            for index in range(self.num_envs):
                info: dict[str, Any] = {"objective_rewards": dict(zip(names, objective_rewards[index].tolist()))}
                if dones[index]:
                    info["terminal_observation"] = final_obs[index]
                    info["TimeLimit.truncated"] = bool(truncated[index])
                infos.append(info)
            return obs, rewards, dones, infos

        def close(self) -> None:
            """Nothing to release."""

        def get_attr(self, attr_name: str, indices=None) -> list[Any]:  # noqa: ANN001 (SB3's signature)
            """The attribute of the (shared) world adapter, once per requested copy."""
            return [getattr(self, attr_name)] * len(self._get_indices(indices))

        def set_attr(self, attr_name: str, value: Any, indices=None) -> None:  # noqa: ANN001
            """Set an attribute of the adapter (the copies share one)."""
            setattr(self, attr_name, value)

        def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:  # noqa: ANN001
            """Call a method of the adapter once per requested copy."""
            method = getattr(self, method_name)
            return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

        def env_is_wrapped(self, wrapper_class: type, indices=None) -> list[bool]:  # noqa: ANN001
            """The copies are not Gymnasium envs, so never wrapped."""
            return [False] * len(self._get_indices(indices))

        def get_images(self) -> Sequence[np.ndarray]:
            """One RGB frame per copy."""
            if self._state is None:
                self.reset()
            return list(np.asarray(self.batch.render(self._state)))

else:

    class MesascopeSB3VecEnv:  # type: ignore[no-redef]
        """Placeholder where SB3 is missing: constructing it raises ImportError with install hints."""

        def __init__(self, *args: Any, **kwargs: Any):
            raise ImportError(INSTALL_HINT)
