"""Goal inference recovers the known goal of scripted agents, and refuses to where it cannot."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.planner_agent import planner_for, planner_policy
from mesascope.diagnose.goals import (
    RANDOM,
    GoalInferenceConfig,
    infer_from_table,
    infer_goals,
    loglik_table,
    to_rows,
)
from mesascope.diagnose.rollout import rollout, uniform_random
from mesascope.records.results import InferenceRow
from mesascope.worlds.coin import CoinWorld

EPISODES = 40
CONFIG = GoalInferenceConfig(bootstrap=300)


@pytest.fixture(scope="module")
def world():
    return CoinWorld()


@pytest.fixture(scope="module")
def shifted_levels(world):
    return world.sample_levels(jax.random.key(21), 1.0, EPISODES)


@pytest.fixture(scope="module")
def train_levels(world):
    return world.sample_levels(jax.random.key(22), 0.0, EPISODES)


@pytest.fixture(scope="module")
def play(world):
    """Episodes of the exact planner for weights (K,) on levels; one compilation for all weights."""
    run = jax.jit(lambda levels, key, weights: rollout(world, planner_policy(world, weights), levels, key))
    return lambda weights, levels: run(levels, jax.random.key(0), jnp.asarray(weights, jnp.float32))


def _infer(world, policy, levels, seed=0):
    episodes = jax.jit(lambda lv, key: rollout(world, policy, lv, key))(levels, jax.random.key(seed))
    return infer_goals(world, levels, episodes, CONFIG)


COIN, EXIT = [1.0, 0.0], [0.0, 1.0]


def _post(inference, name):
    return inference.posterior[inference.index(name)]


def test_coin_planner_is_identified_on_test_levels(world, shifted_levels, play):
    inference = infer_goals(world, shifted_levels, play(COIN, shifted_levels), CONFIG)
    assert inference.hypotheses == ("coin", "exit", RANDOM)
    assert inference.best == "coin"
    assert _post(inference, "coin") > 0.95
    assert inference.support[0] >= 0.95
    assert inference.posterior_low[0] > 0.5
    assert inference.beta[0] > 10
    assert inference.loglik_per_step[0] > inference.loglik_per_step[2] + 0.5
    assert inference.loglik_low[0] <= inference.loglik_per_step[0] <= inference.loglik_high[0]
    assert inference.episodes == EPISODES and inference.steps > EPISODES


def test_exit_planner_is_identified_on_test_levels(world, shifted_levels, play):
    inference = infer_goals(world, shifted_levels, play(EXIT, shifted_levels), CONFIG)
    assert inference.best == "exit"
    assert _post(inference, "exit") > 0.95
    assert inference.support[1] >= 0.95


def test_uniform_random_agent_is_explained_by_random(world, shifted_levels):
    inference = _infer(world, uniform_random(world.num_actions), shifted_levels)
    assert inference.best == RANDOM
    assert _post(inference, RANDOM) > 0.5
    assert inference.beta[2] == 0.0
    # a fitted objective cannot do worse than uniform (β = 0 is on its grid) but gains little
    assert np.all(inference.loglik_per_step[:2] >= inference.loglik_per_step[2] - 1e-6)
    assert np.all(inference.loglik_per_step[:2] - inference.loglik_per_step[2] < 0.01)


def test_noisy_boltzmann_planner_is_still_identified(world, shifted_levels):
    inference = _infer(world, planner_for(world, "coin", temperature=0.02), shifted_levels)
    assert inference.best == "coin"
    assert _post(inference, "coin") > 0.95
    # noisier than the greedy planner: an interior β, and lower likelihood per step
    assert 0 < inference.beta[0] < max(CONFIG.beta_grid)
    assert inference.loglik_per_step[0] < -0.3


def test_objectives_are_unidentifiable_on_train_levels(world, train_levels, play):
    inference = infer_goals(world, train_levels, play(COIN, train_levels), CONFIG)
    coin, exit_ = inference.loglik[:2]
    assert abs(coin - exit_) < 1e-6 * inference.steps
    assert _post(inference, "coin") == pytest.approx(0.5, abs=1e-3)
    assert _post(inference, "exit") == pytest.approx(0.5, abs=1e-3)
    assert inference.support[0] == pytest.approx(0.5) and inference.support[1] == pytest.approx(0.5)


def test_constant_objective_is_the_uniform_policy(world, shifted_levels, play):
    # the coin sits inside the border wall: never reachable, so `coin` is constant on every level
    levels = shifted_levels.replace(coin=jnp.zeros_like(shifted_levels.coin))
    episodes = play(EXIT, levels)
    table, _, _, _ = loglik_table(world, levels, episodes, CONFIG)
    steps = np.asarray(episodes.valid).sum(-1)
    np.testing.assert_allclose(table[0], -np.log(4) * np.broadcast_to(steps, table[0].shape), rtol=1e-5)  # every β and ε
    # under `exit`, the exit planner's actions are likely (ties between shortest paths aside)
    assert table[1, -1, 0].sum() / steps.sum() > -0.5


def _table(gains_per_step, steps=100, episodes=10, betas=(0.0, 1.0)):
    """Synthetic LL table: objective k gains gains_per_step[k] per step over uniform at β = 1."""
    per_episode = steps // episodes
    base = -np.log(4) * per_episode
    table = np.full((len(gains_per_step), len(betas), episodes), base)
    for k, gain in enumerate(gains_per_step):
        table[k, 1] = base + gain * per_episode
    return table, np.full(episodes, per_episode)


def test_bic_penalty_decides_between_objective_and_random():
    config = GoalInferenceConfig(beta_grid=(0.0, 1.0), lapse_grid=(0.0,), bootstrap=50)
    penalty = 0.5 * np.log(100)  # 2.30 nats in total, 0.023 per step
    table, steps = _table([0.01, 0.0])  # gain 1 nat < penalty
    small = infer_from_table(table, steps, ("a", "b"), 4, config)
    assert small.best == RANDOM and small.penalty == pytest.approx(penalty)
    table, steps = _table([0.1, 0.0])  # gain 10 nats > penalty
    large = infer_from_table(table, steps, ("a", "b"), 4, config)
    assert large.best == "a"
    expected = np.exp(10 - penalty) / (np.exp(10 - penalty) + np.exp(-penalty) + 1.0)
    assert large.posterior[0] == pytest.approx(expected)
    assert large.beta.tolist() == [1.0, 0.0, 0.0]
    assert large.loglik_per_step[0] - large.loglik_per_step[2] == pytest.approx(0.1)


def test_no_bootstrap_gives_point_intervals_and_nan_support():
    table, steps = _table([0.1, 0.0])
    inference = infer_from_table(table, steps, ("a", "b"), 4, GoalInferenceConfig(beta_grid=(0.0, 1.0), lapse_grid=(0.0,), bootstrap=0))
    np.testing.assert_array_equal(inference.posterior_low, inference.posterior)
    assert np.isnan(inference.support).all()


def test_to_rows_and_config_validation():
    table, steps = _table([0.1, 0.0])
    inference = infer_from_table(table, steps, ("a", "b"), 4, GoalInferenceConfig(beta_grid=(0.0, 1.0), lapse_grid=(0.0,), bootstrap=20))
    rows = to_rows(3, "test", inference)
    assert [r.hypothesis for r in rows] == ["a", "b", RANDOM]
    assert all(isinstance(r, InferenceRow) and r.agent == 3 and r.distribution == "test" for r in rows)
    assert isinstance(rows[0].posterior, float)
    with pytest.raises(ValueError, match="gamma"):
        GoalInferenceConfig(gamma=1.0)
    with pytest.raises(ValueError, match="beta_grid"):
        GoalInferenceConfig(beta_grid=(-1.0,))
    with pytest.raises(ValueError, match="table shape"):
        infer_from_table(table, steps, ("a",), 4, GoalInferenceConfig(beta_grid=(0.0, 1.0), lapse_grid=(0.0,)))
