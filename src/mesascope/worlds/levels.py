"""Level samplers as their own objects: `sample(key, shift) -> Level`.

A world's own distribution is `WorldLevels(world)` (its `sample_level`); `FixedShift` pins the
dial of another sampler; `Bank` draws uniformly from a fixed batch of levels; `Mixture` takes a
level from `pool` with probability equal to the dial, else from `base`. `World.with_levels`
makes a world that plays exactly like its base and draws its auto-reset levels from a sampler,
which is how level mixing for adversarial training is built (`experiments.level_mix`).

A `LevelBuffer` holds levels drawn ahead of time for one environment: `fill_buffer` draws
them outside the step (once per rollout or chunk) and `buffered_step` resets into the next
one instead of sampling inside every step. Every episode still starts on a level drawn from
the same sampler; see `buffered_step` for when levels repeat.

A `LevelPool` does the same for a whole batch of environments at once: `fill_pool` draws one
pool of levels for the batch, and `pooled_batch_step` deals them out in order as episodes end.
A pool sized for the episodes a chunk will play draws fewer levels than per-environment
buffers, which must each be sized for the most episodes one environment may play.
"""

from __future__ import annotations

import abc
import functools

import jax
import jax.numpy as jnp

from flax import struct

from mesascope.worlds.core import Advance, Level, State, Timestep, World


class Sampler(abc.ABC):
    """Draws levels: `sample(key, shift)` is pure, jittable and vmappable over keys."""

    @abc.abstractmethod
    def sample(self, key: jax.Array, shift: jax.Array) -> Level:
        """One level drawn with the dial at `shift`."""

    def sample_many(self, key: jax.Array, shift: jax.Array | float, count: int) -> Level:
        """`count` levels, batched along a leading axis."""
        keys = jax.random.split(key, count)
        return jax.vmap(self.sample, in_axes=(0, None))(keys, jnp.asarray(shift, jnp.float32))


class WorldLevels(Sampler):
    """A world's own level distribution (its `sample_level` hook)."""

    def __init__(self, world: World):
        self.world = world

    def sample(self, key: jax.Array, shift: jax.Array) -> Level:
        """The world's draw at `shift`."""
        return self.world.sample_level(key, shift)


class FixedShift(Sampler):
    """Another sampler with its dial pinned to `shift` (the dial given to `sample` is ignored)."""

    def __init__(self, inner: Sampler, shift: float):
        self.inner, self.shift = inner, float(shift)

    def sample(self, key: jax.Array, shift: jax.Array) -> Level:
        """The inner sampler's draw at the pinned shift."""
        del shift
        return self.inner.sample(key, jnp.float32(self.shift))


class Bank(Sampler):
    """A uniform draw from a fixed batch of levels (leading axis), made once, e.g. before training."""

    def __init__(self, levels: Level):
        self.levels = levels
        self.size = int(jax.tree.leaves(levels)[0].shape[0])
        if self.size < 1:
            raise ValueError("a level bank needs at least one level")

    def sample(self, key: jax.Array, shift: jax.Array) -> Level:
        """A uniformly chosen bank level (the dial is ignored)."""
        del shift
        index = jax.random.randint(key, (), 0, self.size)
        return jax.tree.map(lambda leaf: leaf[index], self.levels)


class Mixture(Sampler):
    """With probability `shift` a level from `pool`, else one from `base` (both at their own
    dials): the dial of a mixture is the pool's share q in [0, 1]."""

    def __init__(self, base: Sampler, pool: Sampler):
        self.base, self.pool = base, pool

    def sample(self, key: jax.Array, shift: jax.Array) -> Level:
        """One draw from each, kept by a coin with heads probability `shift`."""
        choice_key, base_key, pool_key = jax.random.split(key, 3)
        from_pool = jax.random.uniform(choice_key) < shift
        based = self.base.sample(base_key, shift)
        pooled = self.pool.sample(pool_key, shift)
        return jax.tree.map(lambda a, b: jnp.where(from_pool, a, b), pooled, based)


class LevelBuffer(struct.PyTreeNode):
    """Levels drawn ahead for one environment, (K, ...) per leaf, and the next one to play."""

    levels: Level
    cursor: jax.Array


def fill_buffer(world: World, key: jax.Array, shift: jax.Array | float, size: int) -> LevelBuffer:
    """A level buffer of `size` levels of `world` for one environment, drawn now (outside any step)."""
    return LevelBuffer(world.sample_levels(key, shift, size), jnp.zeros((), jnp.int32))


def buffered_step(world: World, buffer: LevelBuffer, state: State, action: jax.Array) -> tuple[Timestep, LevelBuffer]:
    """`world.step` that resets into the buffer's next level instead of drawing one (`step_to`):
    the same transition, rewards, termination, truncation and observations given that level.
    Every episode starts on a level of the buffer's sampler; once an environment has used
    all K levels of its buffer it plays them again in order, so refill it (`fill_buffer`)
    at least every K episodes for episodes on independent levels."""
    size = jax.tree.leaves(buffer.levels)[0].shape[0]
    timestep = world.step_to(state, action, jax.tree.map(lambda leaf: leaf[buffer.cursor % size], buffer.levels))
    return timestep, buffer.replace(cursor=buffer.cursor + timestep.done.astype(jnp.int32))


def buffered_batch_step(
    world: World, buffers: LevelBuffer, states: State, actions: jax.Array, key: jax.Array, shift: jax.Array | float
) -> tuple[Timestep, LevelBuffer]:
    """`buffered_step` over a batch of environments (leading axis) in which no level is played
    twice: an environment that resets after using up its buffer gets a level drawn in the step
    instead, as in per-step sampling (`_redraw_where`). With buffers sized for the usual number
    of episodes per rollout that is rare, and every episode still starts on an independent draw
    from the world's levels at `shift`."""
    size = jax.tree.leaves(buffers.levels)[0].shape[1]
    timesteps, after = jax.vmap(functools.partial(buffered_step, world))(buffers, states, actions)
    return _redraw_where(world, timesteps, timesteps.done & (buffers.cursor >= size), key, shift), after


def _redraw_where(world: World, timesteps: Timestep, overflow: jax.Array, key: jax.Array, shift: jax.Array | float) -> Timestep:
    """`timesteps` with the environments flagged in `overflow` (which have just reset) restarted
    on levels drawn now, as in per-step sampling. The draw runs for the whole batch, under
    `lax.cond`, only on the steps where some environment is flagged."""

    def redraw(timesteps: Timestep) -> Timestep:
        levels = world.sample_levels(key, shift, overflow.shape[0])
        fresh = jax.vmap(world.initial_timestep)(jax.random.split(key, overflow.shape[0]), levels)
        pick = lambda a, b: jnp.where(overflow.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
        return timesteps.replace(obs=pick(fresh.obs, timesteps.obs), state=jax.tree.map(pick, fresh.state, timesteps.state))

    return jax.lax.cond(jnp.any(overflow), redraw, lambda t: t, timesteps)


class LevelPool(struct.PyTreeNode):
    """Levels drawn ahead for a batch of environments, (N, ...) per leaf, dealt out in order as
    episodes end; `dealt` counts those dealt so far."""

    levels: Level
    dealt: jax.Array

    @property
    def size(self) -> int:
        """N, the levels in the pool."""
        return int(jax.tree.leaves(self.levels)[0].shape[0])


def fill_pool(world: World, key: jax.Array, shift: jax.Array | float, size: int) -> LevelPool:
    """A pool of `size` levels of `world`, drawn now (outside any step), none dealt. Size it for
    the episodes a chunk of steps is expected to end, with a margin: a reset past the pool draws
    in the step."""
    if size < 1:
        raise ValueError(f"a level pool needs at least one level, got size {size}")
    return LevelPool(world.sample_levels(key, shift, size), jnp.zeros((), jnp.int32))


def pooled_batch_step(
    world: World,
    pool: LevelPool,
    states: State,
    actions: jax.Array,
    key: jax.Array,
    shift: jax.Array | float,
    final_obs: bool = True,
) -> tuple[Timestep, LevelPool]:
    """`world.step` over a batch of environments (leading axis) that resets into the pool's
    levels instead of drawing: the environments whose episodes end at this step are dealt the
    next undealt levels, in environment order (`World.advance`, then the reset). Which level an
    environment gets depends on which episodes ended, never on what the undealt levels are, and
    none is dealt twice, so every episode starts on an independent draw of the pool's sampler,
    as in per-step sampling. A reset past the end of the pool gets a level drawn in the step
    instead (for the whole batch, only on the steps where that happens: `_redraw_where`).

    With `final_obs` (what a trainer that bootstraps through time-outs needs) the step observes
    every environment's final state once and observes fresh starts only for the few that reset
    (`_settle_resets_only`), instead of observing every environment twice. A consumer that
    reads only `obs` passes `final_obs=False`: the step then observes each environment once, in
    the state it returns, and the timestep's `final_obs` is None (so a scan that carries the
    timestep must replace it, as `bench/world_throughput.py`'s `kept` does)."""
    size = pool.size
    advanced = jax.vmap(world.advance)(states, actions)
    ended = advanced.done.astype(jnp.int32)
    index = pool.dealt + jnp.cumsum(ended) - ended
    if final_obs:
        timesteps = _settle_resets_only(world, pool, states, advanced, index)
    else:
        timesteps = jax.vmap(world.settle)(states, advanced, _take(pool, index)).replace(final_obs=None)
    timesteps = _redraw_where(world, timesteps, advanced.done & (index >= size), key, shift)
    return timesteps, pool.replace(dealt=pool.dealt + ended.sum())


def _take(pool: LevelPool, index: jax.Array) -> Level:
    """The pool's levels at `index` (clamped to the pool; a reset past it is redrawn)."""
    return jax.tree.map(lambda leaf: leaf[jnp.minimum(index, pool.size - 1)], pool.levels)


def _settle_resets_only(world: World, pool: LevelPool, states: State, advanced: Advance, index: jax.Array) -> Timestep:
    """`World.settle` over a batch, with the pool's levels at `index` for the environments that
    reset. The final observation of every environment is its next observation unless it
    reset, so only the resets' fresh starts are observed: up to `bound` of them (an eighth of
    the batch), gathered, observed and put back in place. On a step where more reset (all
    episodes truncating together after a synchronised start) it settles every environment as
    `World.settle` does; both ways give the same timestep."""
    done = advanced.done
    batch = done.shape[0]
    bound = max(1, -(-batch // 8))
    final = jax.vmap(world.observe)(states.level, advanced.inner)

    def few(_: None) -> tuple[jax.Array, State]:
        slots = jnp.nonzero(done, size=bound, fill_value=batch)[0]  # the resets, in order; batch pads (dropped)
        levels = _take(pool, pool.dealt + jnp.arange(bound))
        starts = jax.vmap(world.start)(levels)
        put = lambda current, new: current.at[slots].set(new, mode="drop")  # noqa: E731
        state = State(level=jax.tree.map(put, states.level, levels), inner=jax.tree.map(put, advanced.inner, starts),
                      time=jnp.where(done, 0, advanced.time))
        return put(final, jax.vmap(world.observe)(levels, starts)), state

    def every(_: None) -> tuple[jax.Array, State]:
        settled = jax.vmap(world.settle)(states, advanced, _take(pool, index))
        return settled.obs, settled.state

    obs, state = jax.lax.cond(done.sum() > bound, every, few, None)
    return advanced.timestep(obs, state, final)
