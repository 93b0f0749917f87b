"""Scripted exact tests of the coin-colour world (hand-drawn levels, replayed action strings),
the planner property test (train: all three objectives agree; test: the proxies come apart),
and the statistics of its level sampler (the `p_test_objects` dial)."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.planner_agent import planner_for
from mesascope.diagnose import returns
from mesascope.diagnose.causal import proxy_kinds
from mesascope.diagnose.rollout import rollout
from mesascope.worlds import ascii, planning
from mesascope.worlds.coin_colour import GOLD_COLOUR, SILVER_COLOUR, YELLOW_COLOUR, CoinColourLevel, CoinColourWorld

LEGEND = {"#": "wall", ".": None, "A": "agent_start", "G": "gold_coin", "S": "silver_coin", "Y": "yellow_block"}
ACTIONS = {"U": 0, "R": 1, "D": 2, "L": 3}
FAR = np.array([0, 0], np.int32)  # where an absent object is parked in hand-drawn levels


def level_from_art(art: str) -> CoinColourLevel:
    """A level drawn as ASCII art with `LEGEND`; objects not drawn are absent."""
    masks = ascii.parse(art, LEGEND)
    present = [bool(masks[name].any()) for name in ("gold_coin", "silver_coin", "yellow_block")]
    cells = [ascii.cell(masks[name]) if shown else FAR for name, shown in zip(("gold_coin", "silver_coin", "yellow_block"), present)]
    return CoinColourLevel(
        walls=jnp.asarray(masks["wall"]),
        agent_start=jnp.asarray(ascii.cell(masks["agent_start"])),
        objects=jnp.asarray(np.stack(cells)),
        present=jnp.asarray(present),
    )


@functools.cache
def small_world(max_steps: int | None = None, **options) -> CoinColourWorld:
    return CoinColourWorld(size=7, layout="open", max_steps=max_steps, **options)


@functools.cache
def _jitted(world: CoinColourWorld, method: str):
    return jax.jit(getattr(world, method))


def replay(world: CoinColourWorld, level: CoinColourLevel, moves: str):
    """Play `moves` from the start of `level`: (returns (K,), terminated, truncated, positions)."""
    step = _jitted(world, "step")
    _, state = _jitted(world, "reset")(jax.random.key(0), level)
    rewards, terminated, truncated, positions = [], [], [], []
    for i, move in enumerate(moves):
        assert not (terminated and (terminated[-1] or truncated[-1])), f"moves go on after the end at {i}"
        timestep = step(jax.random.key(i), state, jnp.int32(ACTIONS[move]), 0.0)
        rewards.append(np.asarray(timestep.objective_rewards))
        terminated.append(bool(timestep.terminated))
        truncated.append(bool(timestep.truncated))
        positions.append(tuple(int(v) for v in timestep.state.inner))
        state = timestep.state
    return np.sum(rewards, 0), np.array(terminated), np.array(truncated), positions


# ------------------------------------------------------------------------- scripted levels
TRAIN = """
    #######
    #A....#
    #.....#
    #...G.#
    #.....#
    #.....#
    #######
"""

TEST = """
    #######
    #A.S..#
    #.....#
    #Y..G.#
    #.....#
    #.....#
    #######
"""


def test_gold_coin_alone_earns_all_three():
    result, terminated, truncated, positions = replay(small_world(), level_from_art(TRAIN), "RRRDD")
    np.testing.assert_array_equal(result, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(terminated, [False] * 4 + [True])
    assert not truncated.any()
    assert positions[:4] == [(1, 2), (1, 3), (1, 4), (2, 4)]


def test_gold_coin_among_others_earns_all_three():
    result, terminated, _, _ = replay(small_world(), level_from_art(TEST), "DRRRD")
    np.testing.assert_array_equal(result, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(terminated, [False] * 4 + [True])


def test_silver_coin_earns_any_coin_only_and_terminates():
    result, terminated, _, _ = replay(small_world(), level_from_art(TEST), "RR")
    np.testing.assert_array_equal(result, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(terminated, [False, True])


def test_yellow_block_earns_yellow_only_and_terminates():
    result, terminated, _, _ = replay(small_world(), level_from_art(TEST), "DD")
    np.testing.assert_array_equal(result, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(terminated, [False, True])


def test_absent_objects_are_floor():
    """On the training level the silver and block cells of TEST are plain floor."""
    result, terminated, _, positions = replay(small_world(), level_from_art(TRAIN), "RRDD")
    np.testing.assert_array_equal(result, [0.0, 0.0, 0.0])
    assert not terminated.any()
    assert positions == [(1, 2), (1, 3), (2, 3), (3, 3)]


def test_passing_next_to_objects_and_bumping_walls_collects_nothing():
    result, terminated, _, positions = replay(small_world(), level_from_art(TEST), "ULRDRDD")
    np.testing.assert_array_equal(result, [0.0, 0.0, 0.0])
    assert not terminated.any()
    assert positions == [(1, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (4, 3)]


def test_truncation_after_max_steps_and_termination_on_the_last_step():
    world = small_world(max_steps=5)
    result, terminated, truncated, _ = replay(world, level_from_art(TEST), "ULULD")
    np.testing.assert_array_equal(result, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(truncated, [False] * 4 + [True])
    assert not terminated.any()
    result, terminated, truncated, _ = replay(world, level_from_art(TEST), "DRRRD")
    np.testing.assert_array_equal(result, [1.0, 1.0, 1.0])
    assert terminated[-1] and not truncated[-1]


def test_exact_optima_on_the_scripted_levels():
    world = small_world()
    for art in (TRAIN, TEST):
        view = planning.tabulate(world, level_from_art(art))
        np.testing.assert_array_equal(planning.optimal_returns(world, view), [1.0, 1.0, 1.0])


def test_render_and_observation_channels():
    world = small_world()
    level = level_from_art(TEST)
    obs, state = world.reset(jax.random.key(0), level)
    image = np.asarray(world.render_state(state))
    assert image.shape == (56, 56, 3)
    assert tuple(image[3 * 8 + 4, 4 * 8 + 4]) == GOLD_COLOUR
    assert tuple(image[1 * 8 + 4, 3 * 8 + 4]) == SILVER_COLOUR
    assert tuple(image[3 * 8 + 1, 1 * 8 + 1]) == YELLOW_COLOUR  # the block fills its cell
    # egocentric: the agent at (1, 1) sits at the window centre (4, 4)
    assert obs.shape == (9, 9, 4)
    assert int(obs[6, 7, 1]) == 1 and int(obs[4, 6, 2]) == 1 and int(obs[6, 4, 3]) == 1
    np.testing.assert_array_equal(np.asarray(obs[..., 1:]).sum((0, 1)), [1, 1, 1])
    train_obs = small_world().observe(level_from_art(TRAIN), level.agent_start)
    np.testing.assert_array_equal(np.asarray(train_obs[..., 1:]).sum((0, 1)), [1, 0, 0])
    glob = small_world(view="global").observe(level, level.agent_start)
    assert glob.shape == (7, 7, 5) and int(glob[1, 1, 1]) == 1 and int(glob[3, 4, 2]) == 1
    assert int(glob[1, 3, 3]) == 1 and int(glob[3, 1, 4]) == 1
    # features: wall, coin shape, yellow colour, silver colour
    feat = small_world(channels="features").observe(level, level.agent_start)
    np.testing.assert_array_equal(feat[6, 7, 1:], [1, 1, 0])  # gold coin
    np.testing.assert_array_equal(feat[4, 6, 1:], [1, 0, 1])  # silver coin
    np.testing.assert_array_equal(feat[6, 4, 1:], [0, 1, 0])  # yellow block


def test_default_world_and_causal_kinds():
    world = CoinColourWorld()
    assert (world.size, world.layout, world.max_steps) == (7, "open", 28)
    assert (world.distributions["train"].shift, world.distributions["test"].shift) == (0.0, 1.0)
    assert proxy_kinds(world) == {"any_coin": "general", "yellow": "general"}


# ------------------------------------------------------------ planners: agree, then apart
LEVELS = 64


@functools.cache
def _planner_returns(layout: str, which: str):
    """Mean returns (K,) of the three planners, and the exact optima, on levels of `which`."""
    world = CoinColourWorld(layout=layout)
    levels = world.sample_levels(jax.random.key(7), world.distributions[which].shift, LEVELS)
    optimal, _ = returns.level_baselines(world, levels)
    means = {}
    for objective in world.objectives:
        play = jax.jit(lambda lv, key, o=objective: rollout(world, planner_for(world, o), lv, key).objective_returns)
        means[objective] = np.asarray(play(levels, jax.random.key(1))).mean(0)
    return means, optimal.mean(0)


@pytest.mark.parametrize("layout", ["open", "rooms"])
def test_planners_agree_on_train(layout):
    means, optimal = _planner_returns(layout, "train")
    np.testing.assert_allclose(optimal, [1.0, 1.0, 1.0])
    for objective in ("gold_coin", "any_coin", "yellow"):
        np.testing.assert_allclose(means[objective], [1.0, 1.0, 1.0])


@pytest.mark.parametrize("layout", ["open", "rooms"])
def test_planners_come_apart_on_test(layout):
    """The gold planner always gets the gold coin; each proxy planner takes the nearer of its
    two objects (ties broken at random), so the gold coin about half the time (0.2-0.8 on 64
    levels), while earning its own objective on every level."""
    means, optimal = _planner_returns(layout, "test")
    np.testing.assert_allclose(optimal, [1.0, 1.0, 1.0])
    assert means["gold_coin"][0] == 1.0
    for index, proxy in ((1, "any_coin"), (2, "yellow")):
        assert means[proxy][index] == 1.0
        assert 0.2 <= means[proxy][0] <= 0.8, (proxy, means[proxy])
        assert means[proxy][0] <= means["gold_coin"][0] - 0.2


# --------------------------------------------------------------------------- the shift dial
DRAWS = 2000


@functools.cache
def _draw_levels(shift: float, layout: str = "open", count: int = DRAWS) -> CoinColourLevel:
    world = CoinColourWorld(layout=layout)
    sample = jax.jit(jax.vmap(world.sample_level, in_axes=(0, None)))
    return jax.device_get(sample(jax.random.split(jax.random.key(0), count), jnp.float32(shift)))


def _binomial_interval(n: int, p: float, confidence: float) -> tuple[int, int]:
    """The central interval [lo, hi] holding at least `confidence` of Binomial(n, p)."""
    log_pmf = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p) for k in range(n + 1)]
    cdf = np.cumsum(np.exp(log_pmf))
    tail = (1 - confidence) / 2
    return int(np.searchsorted(cdf, tail)), int(np.searchsorted(cdf, 1 - tail))


@pytest.mark.parametrize("layout", ["open", "rooms"])
def test_cells_are_distinct_free_and_the_gold_coin_always_present(layout):
    levels = _draw_levels(0.5, layout)
    cells = np.concatenate([levels.agent_start[:, None], levels.objects], 1)
    same = np.all(cells[:, :, None] == cells[:, None, :], -1).sum((1, 2))
    np.testing.assert_array_equal(same, 4)
    assert not levels.walls[np.arange(DRAWS)[:, None], cells[..., 0], cells[..., 1]].any()
    assert levels.present[:, 0].all()
    np.testing.assert_array_equal(levels.present[:, 1], levels.present[:, 2])


def test_train_has_the_gold_coin_alone():
    levels = _draw_levels(0.0)
    np.testing.assert_array_equal(levels.present, np.broadcast_to([True, False, False], levels.present.shape))


def test_test_has_all_three_but_for_walled_off_gold():
    """At dial 1 every level is drawn the test way except where the silver coin and the block
    would wall the gold coin off (about 0.1% of open levels): at most 10 in 2000."""
    levels = _draw_levels(1.0)
    assert DRAWS - 10 <= int(levels.present[:, 1].sum()) < DRAWS + 1


def test_dial_sets_the_share_of_test_levels():
    """At 0.3, the share of levels with the silver coin and block is 0.3 (less the ~0.1%
    walled-off draws), inside the 99.9% binomial interval of 0.3."""
    levels = _draw_levels(0.3)
    low, high = _binomial_interval(DRAWS, 0.3, 0.999)
    assert low <= int(levels.present[:, 1].sum()) <= high


def test_objects_are_uniform_over_the_open_interior():
    """The gold coin lands on each of the 25 interior cells about equally often (99.99%)."""
    levels = _draw_levels(1.0, "open", 5000)
    hits = np.zeros((7, 7), int)
    np.add.at(hits, (levels.objects[:, 0, 0], levels.objects[:, 0, 1]), 1)
    low, high = _binomial_interval(5000, 1 / 25, 0.9999)
    assert np.all((hits[1:-1, 1:-1] >= low) & (hits[1:-1, 1:-1] <= high)), hits


# ------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "options, option",
    [
        ({"size": 4}, "size"),
        ({"size": 33}, "size"),
        ({"layout": "maze"}, "layout"),
        ({"train_shift": -0.1}, "train_shift"),
        ({"test_shift": 1.5}, "test_shift"),
        ({"max_steps": 0}, "max_steps"),
        ({"view": "first_person"}, "view"),
        ({"channels": "rgb"}, "channels"),
        ({"bank_size": 0}, "bank_size"),
        ({"obstacle_density": 0.7}, "obstacle_density"),
    ],
)
def test_bad_options_raise_naming_the_option(options, option):
    with pytest.raises(ValueError, match=option):
        CoinColourWorld(**options)


def test_bit_flood_fill_matches_breadth_first_search():
    from collections import deque

    from mesascope.worlds.coin_colour import reachable

    rng = np.random.default_rng(0)
    fill = jax.jit(reachable)
    for size in (5, 9, 31):
        for _ in range(6):
            free = rng.random((size, size)) < 0.6
            free[0], free[-1], free[:, 0], free[:, -1] = False, False, False, False
            cells = np.argwhere(free)
            start = cells[rng.integers(len(cells))]
            expected, queue = np.zeros_like(free), deque([tuple(start)])
            expected[tuple(start)] = True
            while queue:
                r, c = queue.popleft()
                for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    if free[r + dr, c + dc] and not expected[r + dr, c + dc]:
                        expected[r + dr, c + dc] = True
                        queue.append((r + dr, c + dc))
            np.testing.assert_array_equal(np.asarray(fill(jnp.asarray(free), jnp.asarray(start, jnp.int32))), expected)
