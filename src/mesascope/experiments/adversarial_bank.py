"""The adversarial bank: the test-distribution levels that separate the intended objective from
its proxies most, chosen once, before training, with the exact planner.

`pool_size` candidate levels are drawn from the base world's *test* distribution with a key of
their own (`ADVERSARIAL_SALT` folded into the experiment seed; evaluation folds in a different
salt, `EVAL_SALT`, so the candidates are never the evaluation levels' draws). Each candidate is
scored with identifiability's per-level analysis: its *separation* is the largest, over the
proxies, share of reachable states where the optimal action sets of the intended objective and
that proxy are disjoint (`diagnose.identify`). The `bank_size` best distinct candidates form
the bank; among equal separations the candidate whose first observation differs from its
training twin (the level drawn from the same key at the training shift) in fewer cells comes
first, then the earlier candidate, so the ranking is deterministic.

Scoring runs `lax.map` over the candidates in small batches (bounded memory, one compiled
program) outside any training loop; there is no LAPACK anywhere in it (docs/design.md §5).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.diagnose.identify import IdentifyConfig, _level_analysis
from mesascope.worlds.core import Level, World

ADVERSARIAL_SALT = 0xAD5A1
"""Folded into the experiment seed for the candidate levels. It differs from the evaluation
salt and exceeds every agent's seed index, so no training or evaluation key is reused."""

SCORE_BATCH = 64
"""Candidates scored per batch inside `lax.map` (bounds memory on worlds with many states)."""


class AdversarialBank(NamedTuple):
    """The chosen levels and the numbers they were chosen by."""

    levels: Level
    """The bank: a Level pytree stacked along a leading axis of `bank_size`."""
    separation: np.ndarray
    """(bank_size,) separation of each bank level, descending."""
    changed_cells: np.ndarray
    """(bank_size,) observation cells changed from the level's training twin."""
    indices: np.ndarray
    """(bank_size,) position of each bank level among the candidates."""
    candidate_separation: np.ndarray
    """(pool_size,) separation of every candidate."""
    candidate_cells: np.ndarray
    """(pool_size,) changed cells of every candidate."""


def candidate_key(seed: int) -> jax.Array:
    """The key the candidates of experiment seed `seed` are drawn from."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), ADVERSARIAL_SALT)


def candidate_levels(world: World, seed: int, pool_size: int) -> tuple[Level, Level]:
    """(candidates, training twins): `pool_size` levels drawn at the world's test shift and, from
    the same keys, at its training shift (the same layout before the dial moved its objects)."""
    keys = jax.random.split(candidate_key(seed), pool_size)
    draw = jax.vmap(world.sample_level, in_axes=(0, None))
    test, train = (jnp.float32(world.distributions[name].shift) for name in ("test", "train"))
    return draw(keys, test), draw(keys, train)


def score_levels(world: World, levels: Level, twins: Level, config: IdentifyConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(separation, changed cells) of each of the batched `levels` (see the module docstring)."""
    config = config or IdentifyConfig()
    if world.num_objectives < 2:
        raise ValueError(f"world {world.name!r} has no proxy objective to separate the intended one from")

    def first_obs(level):
        return world.reset(jax.random.PRNGKey(0), level)[0]  # starts are deterministic: any key

    def score(pair):
        level, twin = pair
        disjoint, *_ = _level_analysis(world, level, config)  # the bank still ranks by disjoint optimal actions
        changed = jnp.sum(jnp.any(first_obs(level) != first_obs(twin), axis=-1))
        return disjoint[0, 1:].max(), changed

    separation, changed = jax.jit(lambda pairs: jax.lax.map(score, pairs, batch_size=SCORE_BATCH))((levels, twins))
    return np.asarray(separation, np.float64), np.asarray(changed, np.int64)


def rank(separation: np.ndarray, changed_cells: np.ndarray) -> np.ndarray:
    """Candidate positions best first: highest separation, then fewest changed cells, then
    earliest position."""
    return np.lexsort((np.arange(len(separation)), changed_cells, -separation))


def build_bank(world: World, seed: int = 0, pool_size: int = 512, bank_size: int = 32, config: IdentifyConfig | None = None) -> AdversarialBank:
    """Draw `pool_size` candidates and keep the `bank_size` best distinct ones (module docstring).

    Raises ValueError, naming the field, for sizes out of range and for a world with too few
    distinct candidates to fill the bank."""
    if pool_size < 1:
        raise ValueError(f"adversarial_pool must be >= 1, got {pool_size}")
    if not 1 <= bank_size <= pool_size:
        raise ValueError(f"adversarial_bank must be in [1, adversarial_pool] = [1, {pool_size}], got {bank_size}")
    levels, twins = candidate_levels(world, seed, pool_size)
    separation, cells = score_levels(world, levels, twins, config)
    host = [np.asarray(leaf) for leaf in jax.tree.leaves(levels)]
    chosen: list[int] = []
    seen: set[bytes] = set()
    for index in rank(separation, cells):
        fingerprint = b"".join(leaf[index].tobytes() for leaf in host)
        if fingerprint not in seen:  # a repeated layout would only shrink the bank's variety
            seen.add(fingerprint)
            chosen.append(int(index))
            if len(chosen) == bank_size:
                break
    if len(chosen) < bank_size:
        raise ValueError(f"adversarial_bank: only {len(chosen)} distinct levels among {pool_size} candidates of world {world.name!r}; lower adversarial_bank or raise adversarial_pool")
    picked = np.asarray(chosen)
    bank = jax.tree.map(lambda leaf: leaf[picked], levels)
    return AdversarialBank(bank, separation[picked], cells[picked], picked, separation, cells)
