"""What the two dust-room worlds (cleaning, vacuum) share, checked once for both: the level
sampler's statistics and the checks of the shared options. Each world's own mechanics are in
test_cleaning.py and test_vacuum.py."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope import testing
from mesascope.worlds.cleaning import CleaningWorld
from mesascope.worlds.vacuum import VacuumWorld

WORLDS = {"cleaning": (CleaningWorld, "bin"), "vacuum": (VacuumWorld, "plant")}
DRAWS = 1000


@functools.cache
def _draw_levels(name: str, shift: float, count: int = DRAWS, seed: int = 0):
    world = WORLDS[name][0]()
    sample = jax.jit(jax.vmap(world.sample_level, in_axes=(0, None)))
    return jax.device_get(sample(jax.random.split(jax.random.key(seed), count), jnp.float32(shift)))


def _extra(levels, name: str):
    """(cells, presence) of the extra object (the bin or the plant)."""
    extra = WORLDS[name][1]
    return getattr(levels, extra), getattr(levels, f"{extra}_present")


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_shift_extremes_never_and_always_place_the_extra_object(name):
    assert not _extra(_draw_levels(name, 0.0), name)[1].any()
    assert _extra(_draw_levels(name, 1.0), name)[1].all()


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_shift_sets_the_fraction_of_rooms_with_the_extra_object(name):
    low, high = testing.binomial_interval(DRAWS, 0.3, 0.999)
    count = int(_extra(_draw_levels(name, 0.3), name)[1].sum())
    assert low <= count <= high, (count, (low, high))


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_dust_count_is_uniform_and_cells_are_distinct_interior_cells(name):
    levels = _draw_levels(name, 0.5)
    counts = levels.dust_present.sum(-1)
    low, high = testing.binomial_interval(DRAWS, 0.25, 0.999)
    for n in range(1, 5):
        assert low <= int((counts == n).sum()) <= high, n
    np.testing.assert_array_equal(levels.dust_present, np.arange(4)[None] < counts[:, None])
    cells = np.concatenate([levels.agent_start[:, None], levels.dust, _extra(levels, name)[0][:, None]], 1)
    assert np.all((cells >= 1) & (cells <= 4))
    flat = cells[..., 0] * 6 + cells[..., 1]
    assert all(len(set(row)) == len(row) for row in flat)
    assert len({tuple(row) for row in flat}) > 800  # about 886 of the 4096 placements expected


SHARED_BAD_OPTIONS = [
    ({"size": 4}, "size"),
    ({"size": 9}, "size"),
    ({"max_dust": 0}, "max_dust"),
    ({"max_dust": 6}, "max_dust"),
    ({"train_shift": 1.5}, "train_shift"),
    ({"test_shift": -0.1}, "test_shift"),
    ({"max_steps": 0}, "max_steps"),
    ({"bank_size": 0}, "bank_size"),
    ({"view": "top"}, "view"),
]
CASES = [(name, *case) for name in sorted(WORLDS) for case in SHARED_BAD_OPTIONS]
CASES += [("vacuum", {"soil": 0}, "soil"), ("vacuum", {"soil": 10}, "soil")]


@pytest.mark.parametrize("name, options, option", CASES)
def test_bad_options_raise_naming_the_option(name, options, option):
    with pytest.raises(ValueError, match=option):
        WORLDS[name][0](**options)
