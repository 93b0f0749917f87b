"""Level samplers, the level-buffer mode and the level pool: draws match the world's own, the
buffer and the pool feed auto-resets in order, and episodes in either mode see the sampler's
distribution of levels."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope import worlds
from mesascope.worlds.levels import (
    Bank, FixedShift, Mixture, WorldLevels, buffered_batch_step, buffered_step, fill_buffer, fill_pool, pooled_batch_step,
)
from mesascope.testing import binomial_interval


@functools.cache
def _coin() -> worlds.World:
    return worlds.make("coin", size=7, layout="open", bank_size=1)


def _equal(a, b) -> bool:
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_world_levels_and_fixed_shift_are_the_worlds_own_draws():
    world, key = _coin(), jax.random.key(3)
    assert _equal(WorldLevels(world).sample(key, jnp.float32(0.4)), world.sample_level(key, jnp.float32(0.4)))
    assert _equal(FixedShift(WorldLevels(world), 1.0).sample(key, jnp.float32(0.0)), world.sample_level(key, jnp.float32(1.0)))


def test_mixture_and_bank_follow_the_dial():
    world = _coin()
    bank = world.sample_levels(jax.random.key(0), 1.0, 4)
    mixture = Mixture(FixedShift(WorldLevels(world), 0.0), Bank(bank))
    draws = jax.jit(lambda q: mixture.sample_many(jax.random.key(1), q, 400))
    def from_bank(levels):
        return np.any(np.all(np.asarray(levels.coin)[:, None] == np.asarray(bank.coin)[None], -1)
                      & np.all(np.asarray(levels.agent_start)[:, None] == np.asarray(bank.agent_start)[None], -1), 1)
    assert not np.asarray(draws(0.0).coin != draws(0.0).exit).any()  # q = 0: training levels only
    assert from_bank(draws(1.0)).all()
    low, high = binomial_interval(400, 0.3, 0.999)
    assert low <= int(from_bank(draws(0.3)).sum()) <= high


def test_with_levels_plays_the_same_world_and_refuses_unknown_attributes():
    world = _coin()
    bank = world.sample_levels(jax.random.key(0), 1.0, 2)
    banked = world.with_levels(Bank(bank), note="bank only", name="coin+bank")
    assert banked.name == "coin+bank" and world.name == "coin"
    assert banked.describe().startswith("bank only") and world.describe() in banked.describe()
    assert _equal(banked.sample_level(jax.random.key(5), 0.0), jax.tree.map(lambda x: x[int(jax.random.randint(jax.random.key(5), (), 0, 2))], bank))
    with pytest.raises(ValueError, match="no_such"):
        world.with_levels(Bank(bank), no_such=1)


def test_buffered_steps_reset_into_the_buffer_in_order():
    world = _coin()
    buffer = fill_buffer(world, jax.random.key(0), 1.0, 3)
    timestep = world.initial_timestep(jax.random.key(1), world.sample_level(jax.random.key(2), 1.0))
    step = jax.jit(functools.partial(buffered_step, world))
    played = []
    for i in range(12 * world.max_steps):
        timestep, buffer = step(buffer, timestep.state, jnp.int32(i % 4))
        if timestep.done:
            played.append(timestep.state.level)
    assert len(played) >= 4
    for n, level in enumerate(played):
        assert _equal(level, jax.tree.map(lambda x: x[n % 3], buffer.levels))
    # the same timestep as the per-step mode when that draws the buffer's level
    buffer = fill_buffer(world, jax.random.key(4), 1.0, 2)
    state = world.initial_timestep(jax.random.key(1), world.sample_level(jax.random.key(2), 1.0)).state
    for i in range(3 * world.max_steps):
        ours, buffer = step(buffer, state, jnp.int32(i % 4))
        level = jax.tree.map(lambda x: x[int(buffer.cursor - ours.done) % 2], buffer.levels)
        assert _equal(ours, world.step_to(state, jnp.int32(i % 4), level))
        state = ours.state


def test_buffer_mode_episodes_see_the_samplers_distribution():
    """Share of episodes whose coin is away from the exit at p_random_coin = 0.5, with buffers
    refilled before every chunk, is inside the binomial interval of the sampler's 0.5."""
    world, batch, chunk, size = _coin(), 256, 64, 16

    @jax.jit
    def chunk_run(key, timestep):
        fill_key, action_key = jax.random.split(key)
        buffers = jax.vmap(lambda k: fill_buffer(world, k, 0.5, size))(jax.random.split(fill_key, batch))

        def one(carry, k):
            timestep, buffers = carry
            actions = jax.random.randint(k, (batch,), 0, world.num_actions)
            timestep, buffers = jax.vmap(functools.partial(buffered_step, world))(buffers, timestep.state, actions)
            moved = jnp.any(timestep.state.level.coin != timestep.state.level.exit, -1)
            return (timestep, buffers), (timestep.done, moved, buffers.cursor)

        (timestep, _), out = jax.lax.scan(one, (timestep, buffers), jax.random.split(action_key, chunk))
        return timestep, out

    levels = world.sample_levels(jax.random.key(0), 0.5, batch)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.key(1), batch), levels)
    done, moved, cursor = jax.device_get(chunk_run(jax.random.key(2), timestep)[1])
    assert cursor.max() <= size  # no environment ran out of fresh levels in the chunk
    episodes = int(done.sum())
    low, high = binomial_interval(episodes, 0.5, 0.999)
    assert episodes > batch and low <= int(moved[done].sum()) <= high


def test_batch_buffer_draws_in_the_step_once_a_buffer_is_used_up():
    """With one buffered level per environment and many episodes, each environment plays its
    buffer level at most once (1024 layouts make equal draws by chance negligible), and the
    share of moved coins over all episodes is the sampler's 0.5."""
    world, batch, chunk = worlds.make("coin"), 64, 160
    buffers = jax.vmap(lambda k: fill_buffer(world, k, 0.5, 1))(jax.random.split(jax.random.key(5), batch))
    levels = world.sample_levels(jax.random.key(6), 0.5, batch)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.key(7), batch), levels)

    @jax.jit
    def run(timestep, buffers):
        def one(carry, k):
            timestep, buffers = carry
            action_key, step_key = jax.random.split(k)
            actions = jax.random.randint(action_key, (batch,), 0, world.num_actions)
            timestep, buffers = buffered_batch_step(world, buffers, timestep.state, actions, step_key, 0.5)
            same = jnp.all(timestep.state.level.walls == buffers.levels.walls[:, 0], (-2, -1)) & jnp.all(
                timestep.state.level.coin == buffers.levels.coin[:, 0], -1)
            moved = jnp.any(timestep.state.level.coin != timestep.state.level.exit, -1)
            return (timestep, buffers), (timestep.done, moved, same)

        return jax.lax.scan(one, (timestep, buffers), jax.random.split(jax.random.key(8), chunk))[1]

    done, moved, same = jax.device_get(run(timestep, buffers))
    episodes = int(done.sum())
    assert episodes > 2 * batch
    replays = (done & same).sum(0)
    assert np.all(replays == 1)  # the first reset plays the buffer level, every later one a fresh draw
    low, high = binomial_interval(episodes, 0.5, 0.999)
    assert low <= int(moved[done].sum()) <= high


@pytest.mark.parametrize("final_obs, batch", [(True, 8), (True, 64), (False, 8)])
def test_pool_deals_its_levels_in_order_once_each(final_obs, batch):
    """Every reset plays the pool's next undealt level (environments in order within a step),
    each step is `step_to` on the dealt level (observing only the resets' starts, or every
    environment once without final observations), and no level is dealt twice. With 8
    environments at most one reset per step is observed apart, so steps with one reset and
    steps with several take the two ways of settling; with 64, up to 8 are observed apart."""
    world, size = _coin(), 5 * batch
    pool = fill_pool(world, jax.random.key(0), 1.0, size)
    levels = world.sample_levels(jax.random.key(1), 1.0, batch)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.key(2), batch), levels)
    step = jax.jit(functools.partial(pooled_batch_step, world, final_obs=final_obs))
    dealt, resets_per_step = 0, set()
    for i in range(6 * world.max_steps):
        actions = jax.random.randint(jax.random.key(100 + i), (batch,), 0, world.num_actions)
        ours, after = step(pool, timestep.state, actions, jax.random.key(i), 1.0)
        done = np.asarray(ours.done)
        expected_levels = jax.tree.map(lambda leaf: leaf[np.minimum(dealt + np.cumsum(done) - done, size - 1)], pool.levels)
        if dealt + done.sum() <= size:
            expected = jax.vmap(world.step_to)(timestep.state, actions, expected_levels)
            assert _equal(ours.replace(final_obs=None), expected.replace(final_obs=None))
            assert ours.final_obs is None if not final_obs else _equal(ours.final_obs, expected.final_obs)
            resets_per_step.add(min(int(done.sum()), 2))
        dealt += int(done.sum())
        assert int(after.dealt) == dealt
        timestep, pool = ours, after
    assert dealt > size  # the run went past the pool, so the overflow path ran too
    assert resets_per_step >= {1, 2}


def test_pool_mode_episodes_see_the_samplers_distribution():
    """With a pool smaller than the episodes of the run (the rest drawn in the step), the share of
    episodes whose coin is away from the exit at p_random_coin = 0.5 is the sampler's 0.5."""
    world, batch, chunk, size = worlds.make("coin"), 128, 96, 100

    @jax.jit
    def run(key, timestep):
        pool = fill_pool(world, key, 0.5, size)

        def one(carry, k):
            timestep, pool = carry
            action_key, step_key = jax.random.split(k)
            actions = jax.random.randint(action_key, (batch,), 0, world.num_actions)
            timestep, pool = pooled_batch_step(world, pool, timestep.state, actions, step_key, 0.5)
            moved = jnp.any(timestep.state.level.coin != timestep.state.level.exit, -1)
            return (timestep, pool), (timestep.done, moved)

        return jax.lax.scan(one, (timestep, pool), jax.random.split(jax.random.fold_in(key, 1), chunk))[1]

    levels = world.sample_levels(jax.random.key(6), 0.5, batch)
    timestep = jax.vmap(world.initial_timestep)(jax.random.split(jax.random.key(7), batch), levels)
    done, moved = jax.device_get(run(jax.random.key(5), timestep))
    episodes = int(done.sum())
    assert episodes > 2 * size
    low, high = binomial_interval(episodes, 0.5, 0.999)
    assert low <= int(moved[done].sum()) <= high
