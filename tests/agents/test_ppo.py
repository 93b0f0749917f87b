"""PPO: GAE against a plain Python reference, time-out bootstrapping, and learning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.networks import ActorCritic
from mesascope.agents.ppo import Hyper, PPOConfig, Transition, gae, make_train, successor_values
from mesascope.worlds import registry


def reference_gae(rewards, values, next_values, terminated, done, gamma, lam):
    """GAE written as plain loops over time and environments."""
    steps, envs = rewards.shape
    advantages = np.zeros((steps, envs))
    for e in range(envs):
        running = 0.0
        for t in reversed(range(steps)):
            bootstrap = 0.0 if terminated[t, e] else gamma * next_values[t, e]
            delta = rewards[t, e] + bootstrap - values[t, e]
            running = delta + (0.0 if done[t, e] else gamma * lam * running)
            advantages[t, e] = running
    return advantages, advantages + values


def test_gae_matches_python_reference():
    rng = np.random.default_rng(0)
    steps, envs = 17, 5
    rewards = rng.normal(size=(steps, envs)).astype(np.float32)
    values = rng.normal(size=(steps, envs)).astype(np.float32)
    next_values = rng.normal(size=(steps, envs)).astype(np.float32)
    terminated = rng.random((steps, envs)) < 0.1
    truncated = (rng.random((steps, envs)) < 0.1) & ~terminated
    done = terminated | truncated
    got_adv, got_targets = gae(jnp.asarray(rewards), jnp.asarray(values), jnp.asarray(next_values), jnp.asarray(terminated), jnp.asarray(done), 0.95, 0.9)
    want_adv, want_targets = reference_gae(rewards, values, next_values, terminated, done, 0.95, 0.9)
    np.testing.assert_allclose(np.asarray(got_adv), want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(got_targets), want_targets, rtol=1e-5, atol=1e-5)


def test_gae_bootstraps_through_timeouts_not_terminations():
    rewards = jnp.zeros((1, 2))
    values = jnp.zeros((1, 2))
    next_values = jnp.ones((1, 2))
    terminated = jnp.array([[True, False]])
    done = jnp.array([[True, True]])  # env 0 terminated, env 1 truncated
    advantages, _ = gae(rewards, values, next_values, terminated, done, 0.9, 0.95)
    assert float(advantages[0, 0]) == 0.0
    assert float(advantages[0, 1]) == pytest.approx(0.9)


def test_successor_values_equal_a_forward_pass_over_every_final_observation():
    """The bootstrap values reused from the rollout (and recomputed only at truncations) are the
    values of the full forward pass over every step's final observation, wherever GAE reads them."""
    world = registry.make("coin", max_steps=5)  # short episodes: several truncations per column
    network = ActorCritic(world.num_actions, 16, 2)
    params = network.init(jax.random.PRNGKey(0), jnp.zeros(world.observation_shape, jnp.uint8))
    steps, envs = 23, 6
    levels = jax.vmap(world.sample_level, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(1), envs), 0.5)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.PRNGKey(2), envs), levels)
    step = jax.vmap(world.step, in_axes=(0, 0, 0, None))

    def one_step(timestep, key):
        action_key, step_key = jax.random.split(key)
        actions = jax.random.randint(action_key, (envs,), 0, world.num_actions)
        nxt = step(jax.random.split(step_key, envs), timestep.state, actions, 0.5)
        seen = {"obs": timestep.obs, "value": network.apply(params, timestep.obs)[1]}
        return nxt, {**seen, "terminated": nxt.terminated, "done": nxt.done, "final_obs": nxt.final_obs}

    timestep, stacked = jax.jit(lambda ts: jax.lax.scan(one_step, ts, jax.random.split(jax.random.PRNGKey(3), steps)))(timestep)
    zeros = jnp.zeros((steps, envs))
    batch = Transition(action=zeros.astype(jnp.int32), log_prob=zeros, reward=zeros, **stacked)
    truncated = np.asarray(batch.done & ~batch.terminated)
    assert truncated.sum(0).max() >= 3  # the bound of ceil(23 / 5) = 5 slots is exercised
    got = np.asarray(successor_values(network, params, batch, timestep.obs, world.max_steps))
    want = np.asarray(network.apply(params, batch.final_obs)[1])
    read = ~np.asarray(batch.terminated)  # GAE multiplies the next value by 0 at a termination
    np.testing.assert_allclose(got[read], want[read], rtol=1e-5, atol=1e-6)


def test_bad_minibatch_split_is_rejected():
    world = registry.make("coin")
    with pytest.raises(ValueError, match="minibatches"):
        make_train(PPOConfig(num_envs=3, num_steps=5, minibatches=4), world)


def test_training_improves_intended_return_and_is_deterministic():
    world = registry.make("coin", layout="open", size=7)
    config = PPOConfig(total_steps=40 * 1024, num_envs=16, num_steps=64, learning_rate=1e-3)
    trainer = make_train(config, world)
    train = jax.jit(trainer.train)
    hyper = Hyper.make(shift=0.0)
    params, metrics = train(jax.random.PRNGKey(0), hyper)
    returns = np.asarray(metrics["return/coin"])
    assert np.nanmean(returns[-5:]) > np.nanmean(returns[:5]) + 0.3
    assert np.nanmean(returns[-5:]) > 0.8
    params_again, _ = train(jax.random.PRNGKey(0), hyper)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(params_again)):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_weight_decay_shrinks_weights():
    world = registry.make("coin", layout="open", size=7)
    config = PPOConfig(total_steps=8 * 512, num_envs=8, num_steps=64)
    train = jax.jit(jax.vmap(make_train(config, world).train))
    hyper = Hyper(shift=jnp.zeros(2), l2=jnp.array([0.0, 0.05]), l1=jnp.zeros(2))
    params, _ = train(jax.random.split(jax.random.PRNGKey(0), 2), hyper)
    kernel = np.asarray(params["params"]["actor"]["Dense_0"]["kernel"])
    assert np.sum(kernel[1] ** 2) < 0.9 * np.sum(kernel[0] ** 2)
