"""Level mixing for adversarial training: train on a world whose levels come, with probability q,
from a pool of levels where the candidate objectives come apart.

`MixedLevels(base, pool, bank)` is a world that plays exactly like `base` (same observations,
transitions, starts, rendering, tabular view, objectives, causal graph, actions and step
limit) and differs only in how it draws a level. Its shift dial is the share q in [0, 1]
(named `q_test` or `q_adversarial`): each draw takes a level from the pool with probability q,
else a level from the base world's *training* distribution. The pools:

- `test` ("plain random shift"): a fresh draw from the base world's test distribution. For the
  coin world, q is then exactly the coin world's own dial `p_random_coin`.
- `adversarial`: a uniform draw from a fixed bank of the levels that separate the intended
  objective from the proxies most (`adversarial_bank.build_bank`: the best `adversarial_bank`
  of `adversarial_pool` test-distribution candidates, scored by the exact planner).

Both pools cost one extra draw per call (the generic auto-reset samples a level on every step
under vmap, so this matters): the test pool samples the base world twice, the bank draw is one
uniform index into arrays built once, before training.

Settings (ExperimentConfig): `level_mix` ("none", "test", "adversarial"); with a mix,
`train_shifts` are the shares q; `adversarial_pool` and `adversarial_bank` size the bank.

Honesty caveat. The pools come from the *test* distribution: mixing them into training lets
the agent see the kind of level it is tested on, which is the point of adversarial training
and also why its test scores are not those of an agent that never saw a shifted level. The
evaluation levels themselves are never in a pool: the bank's candidates are drawn with their
own key (`ADVERSARIAL_SALT`), the test pool with training keys, and evaluation with keys salted
by `EVAL_SALT`, on the base world, exactly as for an unmixed run. Independent draws can still
produce the same layout by chance when a world has few layouts, as train and test draws can.
The adversarial bank is small and fixed, so an agent may memorise its levels rather than learn
to follow the intended objective; the test pool draws fresh levels and is the control for that.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mesascope.experiments.adversarial_bank import build_bank
from mesascope.worlds.core import Distribution, Inner, Level, World

POOLS = ("test", "adversarial")
"""Where the mixed-in levels come from."""

LEVEL_MIXES = ("none", *POOLS)
"""Allowed values of ExperimentConfig.level_mix ("none": train on the base world itself)."""


class MixedLevels(World):
    """A base world whose levels come from `pool` with probability q (see the module docstring).

    Its `train` distribution is q = 0 (the base world's training levels), its `test`
    distribution q = 1 (pool levels only). Evaluate agents on the base world, not on this."""

    def __init__(self, base: World, pool: str, bank: Level | None = None):
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {list(POOLS)}, got {pool!r}")
        if (pool == "adversarial") != (bank is not None):
            raise ValueError("the adversarial pool needs a bank (adversarial_bank.build_bank) and the test pool takes none")
        super().__init__(
            base.max_steps,
            {
                "train": Distribution("train", 0.0, f"{base.name}'s training levels only"),
                "test": Distribution("test", 1.0, f"{pool}-pool levels only"),
            },
        )
        self.base = base
        self.pool = pool
        self.bank = bank
        self.bank_size = 0 if bank is None else int(jax.tree.leaves(bank)[0].shape[0])
        self.name = f"{base.name}+{pool}"
        self.objectives = base.objectives
        self.action_names = base.action_names
        self.causal_edges = base.causal_edges
        self.summary = base.summary
        self.non_object_channels = base.non_object_channels
        self.shift_name = f"q_{pool}"
        self.shift_range = (0.0, 1.0)
        self._train_shift = float(base.distributions["train"].shift)
        self._test_shift = float(base.distributions["test"].shift)

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """The base world's observation shape."""
        return self.base.observation_shape

    @property
    def observation_channels(self) -> tuple[str, ...]:
        """The base world's channel names."""
        return self.base.observation_channels

    @property
    def num_tabular_states(self) -> int:
        """The base world's number of tabular states."""
        return self.base.num_tabular_states

    def sample_level(self, key: jax.Array, shift: jax.Array) -> Level:
        """A pool level with probability `shift` (= q), else a base training level."""
        choice_key, train_key, pool_key = jax.random.split(key, 3)
        from_pool = jax.random.uniform(choice_key) < shift
        trained = self.base.sample_level(train_key, jnp.float32(self._train_shift))
        pooled = self.pool_level(pool_key)
        return jax.tree.map(lambda a, b: jnp.where(from_pool, a, b), pooled, trained)

    def pool_level(self, key: jax.Array) -> Level:
        """One level from the pool: a fresh test draw, or a uniformly chosen bank level."""
        if self.pool == "test":
            return self.base.sample_level(key, jnp.float32(self._test_shift))
        index = jax.random.randint(key, (), 0, self.bank_size)
        return jax.tree.map(lambda leaf: leaf[index], self.bank)

    def start(self, level: Level) -> Inner:
        """The base world's start."""
        return self.base.start(level)

    def transition(self, level: Level, inner: Inner, action: jax.Array) -> tuple[Inner, jax.Array, jax.Array]:
        """The base world's transition."""
        return self.base.transition(level, inner, action)

    def observe(self, level: Level, inner: Inner) -> jax.Array:
        """The base world's observation."""
        return self.base.observe(level, inner)

    def render(self, level: Level, inner: Inner) -> jax.Array:
        """The base world's picture."""
        return self.base.render(level, inner)

    def floor_mask(self, level: Level) -> jax.Array:
        """The base world's floor."""
        return self.base.floor_mask(level)

    def with_agent_at(self, inner: Inner, cell: jax.Array) -> Inner:
        """The base world's agent placement."""
        return self.base.with_agent_at(inner, cell)

    def enumerate_inner(self, level: Level) -> Inner:
        """The base world's tabular states."""
        return self.base.enumerate_inner(level)

    def inner_index(self, level: Level, inner: Inner) -> jax.Array:
        """The base world's tabular index."""
        return self.base.inner_index(level, inner)

    def describe(self) -> str:
        """The base world's documentation, headed by what the mix changes."""
        head = f"{self.base.name} trained with level mix '{self.pool}': a level from the {self.pool} pool with probability {self.shift_name}, else a training level."
        return f"{head}\n\n{self.base.describe()}"


def training_world(world: World, level_mix: str, seed: int = 0, pool_size: int = 512, bank_size: int = 32) -> World:
    """The world to train on for `level_mix` (one of LEVEL_MIXES): `world` itself for "none",
    else `world` wrapped in MixedLevels (building the adversarial bank from `seed` if needed)."""
    if level_mix not in LEVEL_MIXES:
        raise ValueError(f"level_mix must be one of {list(LEVEL_MIXES)}, got {level_mix!r}")
    if level_mix == "none":
        return world
    if level_mix == "test":
        return MixedLevels(world, "test")
    bank = build_bank(world, seed=seed, pool_size=pool_size, bank_size=bank_size)
    return MixedLevels(world, "adversarial", bank.levels)
