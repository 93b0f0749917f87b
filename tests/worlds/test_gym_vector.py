"""The native vector environment: Gymnasium's vector API and next-step autoreset, batched in one
jitted call; AsyncVectorEnv refuses a forked worker at once and works with spawn; the SB3
adapter module imports without SB3."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from mesascope.worlds import sb3
from mesascope.worlds.gym_vector import MesascopeVectorEnv

SMALL = {"size": 7, "max_steps": 3}  # every episode ends within 3 steps


def test_make_vec_builds_the_native_env_with_the_vector_api():
    envs = gymnasium.make_vec("mesascope/Coin-v0", num_envs=6, world_options=SMALL, distribution="test")
    assert isinstance(envs.unwrapped, MesascopeVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.single_observation_space == gymnasium.spaces.Box(0, 1, envs.unwrapped.world.observation_shape, np.uint8)
    assert envs.action_space == gymnasium.spaces.MultiDiscrete([4] * 6)
    obs, info = envs.reset(seed=3)
    assert envs.observation_space.contains(obs)
    again, _ = envs.reset(seed=3)
    np.testing.assert_array_equal(obs, again)  # seeded resets repeat
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert envs.observation_space.contains(obs)
    assert reward.shape == terminated.shape == truncated.shape == (6,)
    assert reward.dtype == np.float64 and terminated.dtype == bool and truncated.dtype == bool
    np.testing.assert_array_equal(reward, info["objective_rewards"]["coin"])  # intended objective by default
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 4\)"):
        envs.step(np.full(6, 4))
    envs.close()


def test_info_has_the_layout_sync_vector_env_gives():
    native = gymnasium.make_vec("mesascope/Coin-v0", num_envs=2, world_options=SMALL)
    sync = gymnasium.make_vec("mesascope/Coin-v0", num_envs=2, world_options=SMALL, vectorization_mode="sync")
    for envs in (native, sync):
        envs.reset(seed=0)
    native_info, sync_info = native.step(np.array([0, 1]))[4], sync.step(np.array([0, 1]))[4]
    assert native_info.keys() == sync_info.keys()
    assert native_info["objective_rewards"].keys() == sync_info["objective_rewards"].keys()
    for key in ("episode_length", "_episode_length"):
        assert native_info[key].dtype == sync_info[key].dtype and native_info[key].shape == sync_info[key].shape


def test_next_step_autoreset():
    envs = MesascopeVectorEnv(num_envs=16, world="coin", world_options=SMALL)
    obs, _ = envs.reset(seed=1)
    actions = np.ones(16, np.int64)
    ended_before = np.zeros(16, bool)
    saw_end = saw_restart = False
    for _ in range(8):
        obs, reward, terminated, truncated, info = envs.step(actions)
        lengths = info["episode_length"]
        assert not np.any(terminated & truncated)
        # a copy whose episode ended last step restarts now: no reward, not done, length 0
        assert np.all(reward[ended_before] == 0) and not np.any((terminated | truncated)[ended_before])
        assert np.all(lengths[ended_before] == 0) and np.all(lengths[~ended_before] >= 1)
        saw_restart |= bool(ended_before.any())
        np.testing.assert_array_equal(truncated, (lengths == 3) & ~terminated)  # the world's clock
        ended_before = terminated | truncated
        saw_end |= bool(ended_before.any())
    assert saw_end and saw_restart


def test_reward_weights_and_distribution_errors():
    envs = MesascopeVectorEnv(num_envs=2, world="coin", world_options=SMALL, reward_weights={"exit": 1.0})
    envs.reset(seed=0)
    _, reward, *_, info = envs.step(np.array([1, 1]))
    np.testing.assert_array_equal(reward, info["objective_rewards"]["exit"])
    with pytest.raises(ValueError, match="distribution must be one of"):
        MesascopeVectorEnv(num_envs=2, world="coin", distribution="nope")
    with pytest.raises(ValueError, match="num_envs must be at least 1"):
        MesascopeVectorEnv(num_envs=0)


def test_async_fails_fast_with_fork_and_works_with_spawn():
    code = textwrap.dedent(
        """
        import time, gymnasium, numpy as np
        if __name__ == "__main__":
            start = time.monotonic()
            try:
                gymnasium.make_vec("mesascope/Coin-v0", num_envs=1, vectorization_mode="async", world_options={"size": 7})
                print("fork made")
            except Exception as error:
                print("fork refused", type(error).__name__, round(time.monotonic() - start))
            envs = gymnasium.make_vec("mesascope/Coin-v0", num_envs=1, vectorization_mode="async",
                                      vector_kwargs={"context": "spawn"}, world_options={"size": 7})
            obs, _ = envs.reset(seed=0)
            obs, reward, *_ = envs.step(np.array([1]))
            print("spawn", obs.shape, reward.shape)
            envs.close()
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "fork refused" in done.stdout and "fork made" not in done.stdout
    assert "forked after JAX started" in done.stderr and "context': 'spawn'" in done.stderr  # the worker says why
    assert "spawn (1, 9, 9, 3) (1,)" in done.stdout


def test_sb3_adapter_module_imports_without_sb3():
    if sb3.VecEnv is None:
        with pytest.raises(ImportError, match="torch==.*stable-baselines3"):
            sb3.make_sb3_vec_env("coin", num_envs=2)
        return
    venv = sb3.make_sb3_vec_env("coin", num_envs=4, world_options=SMALL)
    obs = venv.reset()
    assert obs.shape == (4, *venv.observation_space.shape)
    for _ in range(3):
        obs, rewards, dones, infos = venv.step(np.ones(4, np.int64))
    assert dones.all()  # max_steps=3: every copy ended and was reset in the same step
    assert all("terminal_observation" in info and "objective_rewards" in info for info in infos)
