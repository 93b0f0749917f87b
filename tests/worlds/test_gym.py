"""The Gymnasium adapter: the checker passes silently, ids are registered, vector envs work, and
episode rewards equal the objective returns the world's tabular view predicts."""

from __future__ import annotations

import warnings

import gymnasium
import jax
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mesascope import worlds
from mesascope.worlds import planning
from mesascope.worlds.gym import MesascopeEnv, env_id, register_all

SMALL = {"size": 7}  # compiles and runs faster than the default 9x9


@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
@pytest.mark.parametrize("distribution", ["train", "test"])
def test_check_env_passes_without_warnings(render_mode, distribution):
    env = gymnasium.make("mesascope/Coin-v0", distribution=distribution, world_options=SMALL, render_mode=render_mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []


def test_every_registered_world_has_an_id():
    ids = register_all()
    assert ids == [env_id(name) for name in worlds.names()]
    assert "mesascope/Coin-v0" in ids
    for identifier in ids:
        assert identifier in gymnasium.registry
        assert gymnasium.registry[identifier].max_episode_steps is None  # the world truncates itself
    assert env_id("key_door") == "mesascope/KeyDoor-v0"
    assert register_all() == ids  # idempotent


def test_module_prefixed_id_imports_the_adapter():
    env = gymnasium.make("mesascope.worlds.gym:mesascope/Coin-v0", world_options=SMALL)
    assert isinstance(env.unwrapped, MesascopeEnv)


def test_make_gives_spaces_matching_the_world():
    env = gymnasium.make("mesascope/Coin-v0", world_options=SMALL)
    world = env.unwrapped.world
    assert env.observation_space == gymnasium.spaces.Box(0, 1, world.observation_shape, np.uint8)
    assert env.action_space == gymnasium.spaces.Discrete(world.num_actions)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info == {"objective_rewards": {name: 0.0 for name in world.objectives}, "episode_length": 0}
    obs, reward, terminated, truncated, info = env.step(1)
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float) and isinstance(terminated, bool) and isinstance(truncated, bool)
    assert set(info["objective_rewards"]) == set(world.objectives) and info["episode_length"] == 1
    env.close()


def test_seeding_is_reproducible():
    a = MesascopeEnv(world_options=SMALL, distribution="test")
    b = MesascopeEnv(world_options=SMALL, distribution="test")
    starts = []
    for seed in (0, 1, 2, 3):
        obs_a, _ = a.reset(seed=seed)
        obs_b, _ = b.reset(seed=seed)
        np.testing.assert_array_equal(obs_a, obs_b)
        starts.append(obs_a.tobytes())
        for action in (1, 2, 1, 0, 3):
            step_a, step_b = a.step(action), b.step(action)
            np.testing.assert_array_equal(step_a[0], step_b[0])
            assert step_a[1:] == step_b[1:]
    assert len(set(starts)) > 1, "different seeds should give different levels"


def _tabular_returns(world, level, actions):
    """Per-objective returns and the ending of `actions` from the start of `level`, by the table."""
    view = jax.device_get(jax.jit(planning.tabulate, static_argnums=0)(world, level))
    absorbing = world.num_tabular_states
    index, returns = int(view.start), np.zeros(world.num_objectives)
    for t, action in enumerate(actions):
        returns += view.rewards[index, action]
        index = int(view.next_index[index, action])
        if index == absorbing:
            return returns, "terminated", t + 1
    return returns, ("truncated" if len(actions) == world.max_steps else "running"), len(actions)


@pytest.mark.parametrize("distribution", ["train", "test"])
def test_episode_reward_sums_match_objective_returns(distribution):
    weights = {"coin": 1.0, "exit": 0.5}
    env = MesascopeEnv(world_options=SMALL, distribution=distribution, reward_weights=weights)
    world = env.world
    rng = np.random.default_rng(0)
    outcomes = set()
    for episode in range(12):
        env.reset(seed=episode)
        level = env.state.level
        actions, reward_sum, objective_sums = [], 0.0, np.zeros(world.num_objectives)
        terminated = truncated = False
        while not (terminated or truncated):
            # lean right so that many episodes end at the coin or the exit
            action = int(rng.choice(4, p=[0.15, 0.55, 0.15, 0.15]))
            _, reward, terminated, truncated, info = env.step(action)
            actions.append(action)
            reward_sum += reward
            objective_sums += [info["objective_rewards"][name] for name in world.objectives]
        expected, ending, length = _tabular_returns(world, level, actions)
        np.testing.assert_array_equal(objective_sums, expected)
        assert reward_sum == pytest.approx(weights["coin"] * expected[0] + weights["exit"] * expected[1])
        assert ending == ("terminated" if terminated else "truncated")
        assert length == len(actions) == info["episode_length"]
        outcomes.add((ending, tuple(expected)))
    ended = {returns for ending, returns in outcomes if ending == "terminated"}
    assert ended, "some episodes should end at the coin or the exit"
    if distribution == "train":  # the coin lies on the exit: both objectives pay together
        assert ended == {(1.0, 1.0)}
    else:  # the coin never lies on the exit: exactly one pays
        assert ended <= {(1.0, 0.0), (0.0, 1.0)}


def test_default_reward_is_the_intended_objective():
    env = MesascopeEnv(world_options=SMALL, distribution="test")
    for seed in range(6):
        env.reset(seed=seed)
        done = False
        while not done:
            _, reward, terminated, truncated, info = env.step(int(env.np_random.integers(4)))
            assert reward == info["objective_rewards"][env.world.intended]
            done = terminated or truncated


def test_render_shows_the_state_the_action_led_to():
    env = MesascopeEnv(world_options=SMALL, render_mode="rgb_array")
    world = env.world
    env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), np.asarray(world.render_state(env.state)))
    render_after = jax.jit(lambda state, action: world.render(state.level, world.transition(state.level, state.inner, action)[0]))
    rng = np.random.default_rng(1)
    endings = 0
    for _ in range(60):
        before = env.state
        action = int(rng.choice(4, p=[0.1, 0.6, 0.2, 0.1]))
        _, _, terminated, truncated, _ = env.step(action)
        # on the last step of an episode too: the picture shows where the agent got, not the reset
        np.testing.assert_array_equal(env.render(), np.asarray(render_after(before, action)))
        if terminated or truncated:
            endings += 1
            env.reset()
    assert endings > 0
    assert MesascopeEnv(world_options=SMALL).render() is None


def test_sync_vector_env_runs_and_reports_objectives():
    envs = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make("mesascope/Coin-v0", world_options=SMALL) for _ in range(2)])
    obs, infos = envs.reset(seed=0)
    assert obs.shape == (2, *envs.single_observation_space.shape) and obs.dtype == np.uint8
    envs.action_space.seed(0)
    ended = 0
    for _ in range(3 * 28):
        obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert obs.shape[0] == 2 and rewards.shape == (2,)
        np.testing.assert_array_equal(rewards, infos["objective_rewards"]["coin"])
        assert not np.any(terminated & truncated)
        ended += int(np.sum(terminated | truncated))
    assert ended >= 2
    envs.close()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="render_mode"):
        MesascopeEnv(render_mode="human")
    with pytest.raises(ValueError, match="distribution"):
        MesascopeEnv(distribution="holdout")
    with pytest.raises(ValueError, match="size"):
        MesascopeEnv(world_options={"size": 2})
    with pytest.raises(ValueError, match="bogus"):
        MesascopeEnv(reward_weights={"bogus": 1.0})
    with pytest.raises(ValueError, match="one weight per objective"):
        MesascopeEnv(reward_weights=[1.0])
    env = MesascopeEnv(world_options=SMALL)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(4)


@pytest.mark.parametrize("name", worlds.names())
def test_every_world_passes_the_checker_and_runs_as_a_vector_env(name):
    """The Gymnasium checker on the shifted distribution with rendering, then two copies as a
    synchronous vector environment and four as the native one (make_vec's default), whose
    reward is the intended objective's."""
    identifier = env_id(name)
    env = gymnasium.make(identifier, distribution="test", render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    env.close()
    envs = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make(identifier, distribution="test") for _ in range(2)])
    intended = envs.envs[0].unwrapped.world.intended
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, *envs.single_observation_space.shape) and obs.dtype == np.uint8
    envs.action_space.seed(0)
    for _ in range(40):
        obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert envs.single_observation_space.contains(obs[0]) and envs.single_observation_space.contains(obs[1])
        np.testing.assert_array_equal(rewards, infos["objective_rewards"][intended])
        assert not np.any(terminated & truncated)
    envs.close()
    native = gymnasium.make_vec(identifier, num_envs=4, distribution="test")
    obs, _ = native.reset(seed=0)
    native.action_space.seed(0)
    for _ in range(40):
        obs, rewards, terminated, truncated, infos = native.step(native.action_space.sample())
        assert native.observation_space.contains(obs)
        np.testing.assert_array_equal(rewards, infos["objective_rewards"][intended])
        assert not np.any(terminated & truncated)
