"""Recurrent PPO (RL²): determinism per key, the trial bookkeeping of a rollout segment (memory
resets, trial ends, bootstrapping from the final observation at a time-out), and refusals."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.ppo import Hyper, PPOConfig
from mesascope.agents.recurrent import make_recurrent_train
from mesascope.worlds import registry

CONFIG = PPOConfig(total_steps=2 * 8 * 16, num_envs=8, num_steps=16, minibatches=2, epochs=2, width=16)


@functools.cache
def short_world():
    """Episodes of at most 3 steps: most end by time-out, a few by termination."""
    return registry.make("corner", max_steps=3, layout="open", size=5)


def test_same_key_same_agent_other_key_other_agent():
    trainer = make_recurrent_train(CONFIG, short_world(), trial_episodes=2)
    train = jax.jit(jax.vmap(trainer.train))
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(0), jax.random.PRNGKey(1)])
    hyper = Hyper(shift=jnp.ones(3), l2=jnp.zeros(3), l1=jnp.zeros(3))
    params, metrics = train(keys, hyper)
    leaves = [np.asarray(x) for x in jax.tree.leaves(params)]
    assert all(np.array_equal(x[0], x[1]) for x in leaves)
    assert not all(np.array_equal(x[0], x[2]) for x in leaves)
    assert np.isfinite(np.asarray(metrics["policy_loss"])).all()


def test_trials_reset_memory_and_bootstrap_only_at_their_ends():
    world = short_world()
    trainer = make_recurrent_train(CONFIG, world, trial_episodes=2)
    hyper = Hyper.make(shift=1.0)
    runner = trainer.init(jax.random.PRNGKey(3), hyper)
    _, batch, _ = jax.jit(trainer.collect)(runner, hyper)
    batch = jax.device_get(batch)
    done, terminated, reset = batch.done, batch.terminated, batch.reset
    assert done.any() and (done & ~terminated).any(), "some trials should end by time-out"
    assert not (terminated & ~done).any()
    # a trial ends at every second episode end, and the next step starts with zeroed memory
    episode_end = batch.episode_start[1:] | reset[1:]
    for env in range(CONFIG.num_envs):
        ends = np.flatnonzero(episode_end[:, env])
        np.testing.assert_array_equal(reset[1:, env], np.isin(np.arange(CONFIG.num_steps - 1), ends[1::2]))
        np.testing.assert_array_equal(done[:-1, env], reset[1:, env])
    assert reset[0].all() and (batch.prev_action[reset] == -1).all() and (batch.prev_action[~reset] >= 0).all()
    # inside a trial (episode restarts included) the bootstrap value is the next decision's value;
    # at a trial end it is the value of the final observation, not of the next trial's start
    inside = ~done[:-1]
    np.testing.assert_allclose(batch.next_value[:-1][inside], batch.value[1:][inside], rtol=1e-5, atol=1e-6)
    assert not np.allclose(batch.next_value[:-1][done[:-1]], batch.value[1:][done[:-1]])


@pytest.mark.parametrize("kwargs, message", [({"trial_episodes": 0}, "trial_episodes"), ({"trial_episodes": 2}, "divisible")])
def test_bad_settings_are_refused(kwargs, message):
    config = CONFIG if message != "divisible" else PPOConfig(num_envs=6, num_steps=8, minibatches=4)
    with pytest.raises(ValueError, match=message):
        make_recurrent_train(config, short_world(), **kwargs)
