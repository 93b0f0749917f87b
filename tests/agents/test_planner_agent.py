"""The planner agent: optimal on its objective, random tie-breaking, Boltzmann noise, jittable."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.planner_agent import objective_weights, planner_for, planner_policy
from mesascope.diagnose import returns
from mesascope.diagnose.rollout import rollout
from mesascope.worlds.coin import CoinLevel, CoinWorld


@pytest.fixture(scope="module")
def world():
    return CoinWorld()


@pytest.fixture(scope="module")
def shifted_levels(world):
    return world.sample_levels(jax.random.key(11), 1.0, 32)


@pytest.fixture(scope="module")
def play(world, shifted_levels):
    """Per-episode returns (N, K) of the planner for weights (K,); one compilation for all weights."""
    run = jax.jit(lambda levels, key, weights: rollout(world, planner_policy(world, weights), levels, key))
    return lambda weights: np.asarray(run(shifted_levels, jax.random.key(0), jnp.asarray(weights, jnp.float32)).objective_returns)


def test_coin_planner_is_optimal_for_coin(world, shifted_levels, play):
    optimal, _ = returns.level_baselines(world, shifted_levels)
    got = play(np.array([1.0, 0.0]))
    assert got[:, 0].mean() == pytest.approx(optimal[:, 0].mean(), abs=1e-6)


def test_exit_planner_is_optimal_for_exit_and_misses_the_coin(world, shifted_levels, play):
    optimal, _ = returns.level_baselines(world, shifted_levels)
    got = play(objective_weights(world, "exit"))
    assert got[:, 1].mean() == pytest.approx(optimal[:, 1].mean(), abs=1e-6)
    assert got[:, 0].mean() <= 0.1


def _open_level(world):
    walls = jnp.zeros((world.size, world.size), bool).at[0].set(True).at[-1].set(True).at[:, 0].set(True).at[:, -1].set(True)
    return CoinLevel(walls=walls, agent_start=jnp.array([4, 1]), coin=jnp.array([2, 3]), exit=jnp.array([4, 7]))


def test_ties_are_broken_at_random_and_temperature_adds_noise():
    world = CoinWorld(layout="open")
    level = _open_level(world)
    obs, state = world.reset(jax.random.key(0), level)
    keys = jax.random.split(jax.random.key(1), 200)

    greedy = planner_for(world, "coin")
    actions = np.asarray(jax.jit(jax.vmap(greedy, in_axes=(0, None, None)))(keys, obs, state))
    assert set(actions.tolist()) == {0, 1}  # up and right both start a shortest path to the coin

    noisy = planner_for(world, "coin", temperature=10.0)
    actions = np.asarray(jax.jit(jax.vmap(noisy, in_axes=(0, None, None)))(keys, obs, state))
    assert set(actions.tolist()) == {0, 1, 2, 3}


def test_bad_arguments_raise(world):
    with pytest.raises(ValueError, match="shape"):
        planner_policy(world, np.ones(3))
    with pytest.raises(ValueError, match="unknown objective"):
        objective_weights(world, "gold")
    with pytest.raises(ValueError, match="temperature"):
        planner_policy(world, np.ones(2), temperature=-1.0)
