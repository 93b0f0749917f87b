"""Reward shaping: potential-based shaping leaves the planner's optimal actions unchanged on every
level (exact), a plain bonus does not, bad specs are refused before work, and the PPO reward
hook is exact (an identity hook trains bit-identically to no hook)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents import shaping as shaping_module
from mesascope.agents.planner_agent import objective_weights
from mesascope.agents.ppo import Hyper, PPOConfig, make_train
from mesascope.experiments.config import ConfigError, ExperimentConfig, apply_overrides
from mesascope.worlds import planning, registry


def _changed_share(world, spec: str, coef: float, levels: int = 16) -> tuple[float, float]:
    """(share of reachable states whose optimal action set changes, share of levels with any change)."""
    gamma, iterations = 0.9, 400
    shaping = shaping_module.parse_shaping(spec, world, coef, gamma)
    weights = jnp.asarray(objective_weights(world, world.intended))
    batch = world.sample_levels(jax.random.PRNGKey(3), world.distributions["test"].shift, levels)
    def one(level):
        plain = shaping_module.shaped_q_values(world, level, weights, None, gamma, iterations)
        shaped = shaping_module.shaped_q_values(world, level, weights, shaping, gamma, iterations)
        reach = planning.tabulate(world, level).reachable
        differ = jnp.any(shaping_module.optimal_action_sets(plain) != shaping_module.optimal_action_sets(shaped), -1)
        return jnp.sum(differ & reach) / jnp.sum(reach), jnp.any(differ & reach)

    states, any_level = jax.jit(jax.vmap(one))(batch)
    return float(np.mean(states)), float(np.mean(any_level))


@pytest.mark.parametrize("world_name,feature", [("coin", "distance_to_coin"), ("tamper", "distance_to_register")])
def test_potential_shaping_keeps_every_optimal_action(world_name, feature):
    world = registry.make(world_name)
    for coef in (-0.5, 0.3):
        states, levels = _changed_share(world, f"potential:{feature}", coef)
        assert states == 0.0 and levels == 0.0


def test_bonus_shaping_changes_optimal_actions():
    world = registry.make("coin")
    states, levels = _changed_share(world, "bonus:distance_to_exit", 0.3)
    assert states > 0.0 and levels > 0.0


def test_unknown_feature_and_kind_are_refused_naming_the_allowed_ones():
    with pytest.raises(ConfigError, match="allowed features: \\['distance_to_coin', 'distance_to_exit'\\]"):
        apply_overrides(ExperimentConfig(), ["shaping=potential:distance_to_lava"])
    with pytest.raises(ConfigError, match="KIND one of \\['potential', 'bonus'\\]"):
        apply_overrides(ExperimentConfig(), ["shaping=gradient:distance_to_coin"])
    config = apply_overrides(ExperimentConfig(), ["shaping=bonus:distance_to_coin", "shaping_coef=-0.2"])
    assert config.shaping == "bonus:distance_to_coin" and config.shaping_coef == -0.2


def test_identity_hook_trains_bit_identically():
    world = registry.make("coin", size=5)
    config = PPOConfig(total_steps=64, num_envs=2, num_steps=32, minibatches=2, epochs=1, width=4, depth=1)
    hyper, key = Hyper.make(), jax.random.PRNGKey(0)
    plain = make_train(config, world).train(key, hyper)[0]
    identity = make_train(config, world, reward_hook=lambda state, action, obs, base, params: base).train(key, hyper)[0]
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(identity)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_reward_hook_adds_the_shaping_term_of_the_step():
    world = registry.make("coin")
    level = world.sample_level(jax.random.PRNGKey(2), 1.0)
    _, state = world.reset(jax.random.PRNGKey(0), level)
    for kind, expected in (("potential", lambda f0, f1: -0.5 * (0.9 * f1 - f0)), ("bonus", lambda f0, f1: -0.5 * f1)):
        shaping = shaping_module.parse_shaping(f"{kind}:distance_to_exit", world, -0.5, 0.9)
        hook = shaping_module.reward_hook(world, shaping)
        for action in range(world.num_actions):
            nxt, _, terminated = world.transition(level, state.inner, jnp.int32(action))
            f0 = float(world.features(level, state.inner)[1])
            f1 = 0.0 if bool(terminated) else float(world.features(level, nxt)[1])
            got = float(hook(state, jnp.int32(action), state.level.walls, jnp.float32(1.0), None))
            assert got == pytest.approx(1.0 + expected(f0, f1), abs=1e-6)


def test_features_are_distances_to_objects():
    world = registry.make("coin")
    level = world.sample_level(jax.random.PRNGKey(1), 1.0)
    inner = world.start(level)
    values = np.asarray(world.features(level, inner))
    expected = [np.abs(np.asarray(level.coin) - np.asarray(inner)).sum(), np.abs(np.asarray(level.exit) - np.asarray(inner)).sum()]
    np.testing.assert_allclose(values, expected)
