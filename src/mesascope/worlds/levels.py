"""Level samplers as their own objects: `sample(key, shift) -> Level`.

A world's own distribution is `WorldLevels(world)` (its `sample_level`); `FixedShift` pins the
dial of another sampler; `Bank` draws uniformly from a fixed batch of levels; `Mixture` takes a
level from `pool` with probability equal to the dial, else from `base`. `World.with_levels`
makes a world that plays exactly like its base and draws its auto-reset levels from a sampler,
which is how level mixing for adversarial training is built (`experiments.level_mix`).

A `LevelBuffer` holds levels drawn ahead of time for each environment: `World.fill_buffer`
draws them outside the step (once per rollout or chunk) and `World.buffered_step` resets
into the next one instead of sampling inside every step. Every episode still starts on a
level drawn from the same sampler; see `World.buffered_step` for when levels repeat.
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp

from mesascope.worlds.core import Level, World


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
