"""Scripted exact tests of the coin world: hand-drawn levels, replayed action strings, and the
statistics of its level sampler (the shift dial)."""

from __future__ import annotations

import functools
from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope import testing
from mesascope.worlds import ascii, grid, planning
from mesascope.worlds.coin import CoinLevel, CoinWorld

LEGEND = {"#": "wall", ".": None, "A": "agent_start", "C": "coin", "E": "exit", "$": ("coin", "exit")}
COIN, EXIT = 0, 1  # objective indices


def coin_level(art: str) -> CoinLevel:
    """A coin level drawn as ASCII art with `LEGEND`."""
    masks = ascii.parse(art, LEGEND)
    return CoinLevel(
        walls=jnp.asarray(masks["wall"]),
        agent_start=jnp.asarray(ascii.cell(masks["agent_start"])),
        coin=jnp.asarray(ascii.cell(masks["coin"])),
        exit=jnp.asarray(ascii.cell(masks["exit"])),
    )


@functools.cache
def open_world(size: int = 7, max_steps: int | None = None) -> CoinWorld:
    return CoinWorld(size=size, layout="open", max_steps=max_steps)


def replay(world: CoinWorld, level: CoinLevel, moves: str) -> testing.Replay:
    """Play the action string `moves` ("RRDD…") from the start of `level`; it must not go on
    after the episode ends."""
    return testing.replay(world, level, moves)


# ---------------------------------------------------------------------------- ascii helper
def test_ascii_parse_and_draw_round_trip():
    art = """
        #####
        #A.$#
        #####
    """
    masks = ascii.parse(art, LEGEND)
    assert masks["wall"].shape == (3, 5) and masks["wall"].sum() == 12
    np.testing.assert_array_equal(ascii.cell(masks["coin"]), [1, 3])
    np.testing.assert_array_equal(ascii.cell(masks["exit"]), [1, 3])
    assert ascii.draw(masks, LEGEND).splitlines() == ["#####", "#A.$#", "#####"]
    with pytest.raises(ValueError, match="'x'"):
        ascii.parse("#x#", LEGEND)
    with pytest.raises(ValueError, match="width"):
        ascii.parse("###\n##", LEGEND)
    with pytest.raises(ValueError, match="exactly one"):
        ascii.cell(masks["wall"])


# ------------------------------------------------------------------------- scripted levels
CORRIDOR = """
    #######
    #A...$#
    #.....#
    #.....#
    #.....#
    #.....#
    #######
"""

COIN_INSIDE = """
    #######
    #A...E#
    #.....#
    #..C..#
    #.....#
    #.....#
    #######
"""

WALLED = """
    #######
    #A#..E#
    #.###.#
    #...#C#
    ###.#.#
    #.....#
    #######
"""


def test_coin_at_exit_collects_both():
    result = replay(open_world(), coin_level(CORRIDOR), "RRRR")
    np.testing.assert_array_equal(result.returns, [1.0, 1.0])
    np.testing.assert_array_equal(result.rewards[:3], np.zeros((3, 2)))
    np.testing.assert_array_equal(result.terminated, [False, False, False, True])
    assert not result.truncated.any()
    np.testing.assert_array_equal(result.episode_length, [1, 2, 3, 4])
    assert result.positions == [(1, 2), (1, 3), (1, 4)]


def test_coin_elsewhere_gives_coin_only_and_terminates():
    result = replay(open_world(), coin_level(COIN_INSIDE), "DDRR")
    np.testing.assert_array_equal(result.returns, [1.0, 0.0])
    np.testing.assert_array_equal(result.terminated, [False, False, False, True])
    assert result.positions == [(2, 1), (3, 1), (3, 2)]


def test_exit_without_the_coin_gives_exit_only():
    result = replay(open_world(), coin_level(COIN_INSIDE), "RRRR")
    np.testing.assert_array_equal(result.returns, [0.0, 1.0])
    np.testing.assert_array_equal(result.terminated, [False, False, False, True])


def test_passing_next_to_the_coin_collects_nothing():
    result = replay(open_world(), coin_level(COIN_INSIDE), "DRDDRRUU")
    np.testing.assert_array_equal(result.returns, [0.0, 0.0])
    assert not result.terminated.any() and not result.truncated.any()
    assert result.positions == [(2, 1), (2, 2), (3, 2), (4, 2), (4, 3), (4, 4), (3, 4), (2, 4)]


def test_walls_block_movement():
    world = open_world()
    level = coin_level(WALLED)
    # right: interior wall; up and left: border walls; then down the free column
    result = replay(world, level, "RULD")
    assert result.positions == [(1, 1), (1, 1), (1, 1), (2, 1)]
    np.testing.assert_array_equal(result.returns, [0.0, 0.0])
    assert not result.terminated.any()


def test_scripted_route_through_walls_reaches_the_coin():
    world = open_world()
    level = coin_level(WALLED)
    result = replay(world, level, "DDRRDDRRUU")
    assert result.positions == [(2, 1), (3, 1), (3, 2), (3, 3), (4, 3), (5, 3), (5, 4), (5, 5), (4, 5)]
    np.testing.assert_array_equal(result.returns, [1.0, 0.0])
    assert result.terminated[-1] and result.episode_length[-1] == 10
    # the exit lies behind the coin: every way to it ends the episode on the coin first
    view = planning.tabulate(world, level)
    np.testing.assert_array_equal(planning.optimal_returns(world, view), [1.0, 0.0])


def test_truncation_after_max_steps_of_bumping_into_walls():
    world = open_world(max_steps=5)
    result = replay(world, coin_level(CORRIDOR), "LULUL")
    np.testing.assert_array_equal(result.returns, [0.0, 0.0])
    np.testing.assert_array_equal(result.truncated, [False] * 4 + [True])
    assert not result.terminated.any()
    np.testing.assert_array_equal(result.episode_length, [1, 2, 3, 4, 5])
    assert result.positions == [(1, 1)] * 4


def test_reaching_the_coin_on_the_last_step_is_termination():
    world = open_world(max_steps=4)
    result = replay(world, coin_level(CORRIDOR), "RRRR")
    np.testing.assert_array_equal(result.returns, [1.0, 1.0])
    assert result.terminated[-1] and not result.truncated[-1]


def test_one_step_too_many_is_truncation():
    world = open_world(max_steps=3)
    result = replay(world, coin_level(CORRIDOR), "RRR")
    np.testing.assert_array_equal(result.returns, [0.0, 0.0])
    np.testing.assert_array_equal(result.truncated, [False, False, True])


def test_render_draws_the_agent_where_it_is():
    world = open_world()
    level = coin_level(COIN_INSIDE)
    _, state = world.reset(jax.random.key(0), level)
    image = np.asarray(world.render_state(state))
    assert image.shape == (7 * 8, 7 * 8, 3) and image.dtype == np.uint8
    assert tuple(image[1 * 8 + 4, 1 * 8 + 4]) == grid.PALETTE["agent"]
    assert tuple(image[3 * 8 + 4, 3 * 8 + 4]) == grid.PALETTE["coin"]
    assert tuple(image[0 * 8 + 4, 0 * 8 + 4]) == grid.PALETTE["wall"]


# ---------------------------------------------------------------------------- the shift dial
DRAWS = 1000


@functools.cache
def _draw_levels(world: CoinWorld, shift: float, count: int = DRAWS, seed: int = 0) -> CoinLevel:
    sample = jax.jit(jax.vmap(world.sample_level, in_axes=(0, None)))
    return jax.device_get(sample(jax.random.split(jax.random.key(seed), count), jnp.float32(shift)))


@functools.cache
def default_world() -> CoinWorld:
    return CoinWorld()


def _moved(levels: CoinLevel) -> np.ndarray:
    return np.any(levels.coin != levels.exit, axis=-1)


def _at(mask: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """mask[i, cells[i, 0], cells[i, 1]] for a batch."""
    return mask[np.arange(len(cells)), cells[:, 0], cells[:, 1]]


def test_shift_zero_keeps_the_coin_at_the_exit():
    levels = _draw_levels(default_world(), 0.0)
    np.testing.assert_array_equal(levels.coin, levels.exit)


def test_shift_one_always_moves_the_coin_onto_a_free_cell():
    levels = _draw_levels(default_world(), 1.0)
    assert _moved(levels).all()
    assert np.all(np.any(levels.coin != levels.agent_start, axis=-1))
    assert not _at(levels.walls, levels.coin).any()


def test_shift_sets_the_fraction_of_moved_coins():
    levels = _draw_levels(default_world(), 0.3)
    low, high = testing.binomial_interval(DRAWS, 0.3, 0.999)
    moved = int(_moved(levels).sum())
    assert low <= moved <= high, (moved, (low, high))


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_start_and_exit_lie_on_free_cells_of_their_columns(shift):
    world = default_world()
    levels = _draw_levels(world, shift)
    assert np.all(levels.agent_start[:, 1] == 1)
    assert np.all(levels.exit[:, 1] == world.size - 2)
    assert not _at(levels.walls, levels.agent_start).any()
    assert not _at(levels.walls, levels.exit).any()
    assert len({tuple(c) for c in levels.agent_start}) > 3 and len({tuple(c) for c in levels.exit}) > 3


def test_moved_coin_is_uniform_over_the_other_free_cells():
    """On the open 5x5 level every free cell other than the start and the exit is equally likely."""
    world = open_world(size=5)
    count = 4000
    levels = _draw_levels(world, 1.0, count)
    free = np.argwhere(~levels.walls[0])
    for cell in free:
        eligible = np.any(levels.agent_start != cell, -1) & np.any(levels.exit != cell, -1)
        hits = np.all(levels.coin == cell, -1)
        assert not hits[~eligible].any(), f"coin placed on the start or the exit at {cell}"
        n = int(eligible.sum())
        lo, hi = testing.binomial_interval(n, 1 / (len(free) - 2), 0.9999)
        assert lo <= int(hits.sum()) <= hi, (tuple(cell), int(hits.sum()), (lo, hi))


@pytest.mark.parametrize("layout", ["rooms", "maze"])
def test_distinct_layouts_appear(layout):
    world = default_world() if layout == "rooms" else CoinWorld(layout="maze")
    levels = _draw_levels(world, 0.0)
    distinct = {walls.tobytes() for walls in levels.walls}
    assert len(distinct) > 400, len(distinct)


def _connected(free: np.ndarray) -> bool:
    cells = [tuple(c) for c in np.argwhere(free)]
    seen, queue = {cells[0]}, deque([cells[0]])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if free[nr, nc] and (nr, nc) not in seen:
                seen.add((nr, nc))
                queue.append((nr, nc))
    return len(seen) == len(cells)


@pytest.mark.parametrize("layout", ["open", "maze", "rooms"])
def test_layouts_are_walled_connected_and_solvable(layout):
    world = CoinWorld(size=9, layout=layout)
    levels = _draw_levels(world, 0.0, 64, 1)
    for walls in levels.walls:
        assert walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()
        assert _connected(~walls)
    if layout == "open":
        assert not levels.walls[:, 1:-1, 1:-1].any()
    if layout == "maze":  # corridors on odd coordinates, pillars on even ones
        assert levels.walls[:, ::2, ::2].all() and not levels.walls[:, 1::2, 1::2].any()
    views = jax.vmap(lambda level: planning.tabulate(world, level))(levels)
    optimal = jax.vmap(lambda view: planning.optimal_returns(world, view))(views)
    np.testing.assert_array_equal(optimal, np.ones_like(optimal))


@pytest.mark.parametrize("layout", ["maze", "rooms"])
def test_random_agent_never_stands_in_a_wall(layout):
    world = CoinWorld(size=9, layout=layout)
    batch, steps = 16, 3 * world.max_steps

    def run(key):
        level_key, reset_key, run_key = jax.random.split(key, 3)
        levels = world.sample_levels(level_key, 1.0, batch)
        _, states = jax.vmap(world.reset)(jax.random.split(reset_key, batch), levels)

        def one_step(state, k):
            action_key, step_key = jax.random.split(k)
            actions = jax.random.randint(action_key, (batch,), 0, 4)
            stepped = jax.vmap(world.transition)(state.level, state.inner, actions)[0]
            nxt = jax.vmap(world.step, in_axes=(0, 0, 0, None))(jax.random.split(step_key, batch), state, actions, 1.0)
            rows = jnp.arange(batch)
            in_wall = state.level.walls[rows, stepped[:, 0], stepped[:, 1]] | nxt.state.level.walls[rows, nxt.state.inner[:, 0], nxt.state.inner[:, 1]]
            return nxt.state, (in_wall, nxt.terminated)

        return jax.lax.scan(one_step, states, jax.random.split(run_key, steps))[1]

    in_wall, terminated = jax.device_get(jax.jit(run)(jax.random.key(3)))
    assert not in_wall.any()
    assert terminated.any()


# ------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "options, option",
    [
        ({"size": 4}, "size"),
        ({"size": 32}, "size"),
        ({"layout": "spiral"}, "layout"),
        ({"train_shift": 1.5}, "train_shift"),
        ({"train_shift": -0.1}, "train_shift"),
        ({"test_shift": 2.0}, "test_shift"),
        ({"max_steps": 0}, "max_steps"),
        ({"layout": "rooms", "obstacle_density": 1.0}, "obstacle_density"),
    ],
)
def test_bad_options_raise_naming_the_option(options, option):
    with pytest.raises(ValueError, match=option):
        CoinWorld(**options)


def test_maze_needs_an_odd_size():
    with pytest.raises(ValueError, match="odd"):
        CoinWorld(size=8, layout="maze")
