"""Level mixing for adversarial training: train on a world whose levels come, with probability q,
from a pool of levels where the candidate objectives come apart.

`mixed(base, pool, bank)` is `base.with_levels(...)`: a world that plays exactly like `base`
(same observations, transitions, starts, rendering, tabular view, objectives, causal graph,
actions and step limit) and differs only in how it draws a level, a `worlds.levels.Mixture` of
the base world's training levels and the pool. Its shift dial is the share q in [0, 1]
(named `q_test` or `q_adversarial`): each draw takes a level from the pool with probability q,
else a level from the base world's *training* distribution. The pools:

- `test` ("plain random shift"): a fresh draw from the base world's test distribution. For the
  coin world, q is then exactly the coin world's own dial `p_random_coin`.
- `adversarial`: a uniform draw from a fixed bank of the levels that separate the intended
  objective from the proxies most (`adversarial_bank.build_bank`: the best `adversarial_bank`
  of `adversarial_pool` test-distribution candidates, scored by the exact planner).

Both pools cost one extra draw per call (the per-step auto-reset samples a level on every step
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

from mesascope.experiments.adversarial_bank import build_bank
from mesascope.worlds.core import Distribution, Level, World
from mesascope.worlds.levels import Bank, FixedShift, Mixture, Sampler, WorldLevels

POOLS = ("test", "adversarial")
"""Where the mixed-in levels come from."""

LEVEL_MIXES = ("none", *POOLS)
"""Allowed values of ExperimentConfig.level_mix ("none": train on the base world itself)."""


def pool_sampler(base: World, pool: str, bank: Level | None = None) -> Sampler:
    """The pool's sampler: fresh test draws of `base`, or uniform draws from `bank`."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {list(POOLS)}, got {pool!r}")
    if (pool == "adversarial") != (bank is not None):
        raise ValueError("the adversarial pool needs a bank (adversarial_bank.build_bank) and the test pool takes none")
    if pool == "test":
        return FixedShift(WorldLevels(base), base.distributions["test"].shift)
    return Bank(bank)


def mixed(base: World, pool: str, bank: Level | None = None) -> World:
    """`base` drawing a level from `pool` with probability q (its dial, named `q_<pool>`), else a
    base training level. Its `train` distribution is q = 0, its `test` distribution q = 1 (pool
    levels only). Evaluate agents on the base world, not on this."""
    levels = Mixture(FixedShift(WorldLevels(base), base.distributions["train"].shift), pool_sampler(base, pool, bank))
    note = f"{base.name} trained with level mix '{pool}': a level from the {pool} pool with probability q_{pool}, else a training level."
    return base.with_levels(
        levels,
        note=note,
        name=f"{base.name}+{pool}",
        shift_name=f"q_{pool}",
        shift_range=(0.0, 1.0),
        distributions={
            "train": Distribution("train", 0.0, f"{base.name}'s training levels only"),
            "test": Distribution("test", 1.0, f"{pool}-pool levels only"),
        },
    )


def training_world(world: World, level_mix: str, seed: int = 0, pool_size: int = 512, bank_size: int = 32) -> World:
    """The world to train on for `level_mix` (one of LEVEL_MIXES): `world` itself for "none",
    else `world` with mixed levels (building the adversarial bank from `seed` if needed)."""
    if level_mix not in LEVEL_MIXES:
        raise ValueError(f"level_mix must be one of {list(LEVEL_MIXES)}, got {level_mix!r}")
    if level_mix == "none":
        return world
    if level_mix == "test":
        return mixed(world, "test")
    bank = build_bank(world, seed=seed, pool_size=pool_size, bank_size=bank_size)
    return mixed(world, "adversarial", bank.levels)
