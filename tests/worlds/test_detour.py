"""Scripted exact tests of the detour world, the planning-horizon property, and its shift dial."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.diagnose import returns
from mesascope.diagnose.causal import proxy_kinds
from mesascope import testing
from mesascope.worlds import ascii, planning
from mesascope.worlds.detour import JACKPOT_COLOUR, DetourLevel, DetourWorld

LEGEND = {"#": "wall", ".": None, "A": "agent_start", "G": "goal", "J": "jackpot"}
DELIVER, POINTS = 0, 1


def detour_level(art: str, present: bool) -> DetourLevel:
    masks = ascii.parse(art, LEGEND)
    return DetourLevel(
        walls=jnp.asarray(masks["wall"]),
        agent_start=jnp.asarray(ascii.cell(masks["agent_start"])),
        goal=jnp.asarray(ascii.cell(masks["goal"])),
        jackpot=jnp.asarray(ascii.cell(masks["jackpot"])),
        jackpot_present=jnp.asarray(present),
    )


@functools.cache
def make_world(max_steps: int | None = None) -> DetourWorld:
    return DetourWorld(max_steps=max_steps)


def replay(world: DetourWorld, level: DetourLevel, moves: str):
    """Rewards (T, K), terminated (T,), truncated (T,) and the agent's cell after each step."""
    r = testing.replay(world, level, moves)
    return r.rewards, r.terminated, r.truncated, r.moved_to


ROOM = """
    #######
    #.....#
    #.AG..#
    #.....#
    #.....#
    #....J#
    #######
"""


def test_the_near_goal_pays_both_and_terminates():
    rewards, terminated, truncated, _ = replay(make_world(), detour_level(ROOM, True), "R")
    np.testing.assert_array_equal(rewards, [[1, 1]])
    assert terminated.all() and not truncated.any()


def test_the_jackpot_pays_points_and_costs_the_delivery():
    rewards, terminated, _, positions = replay(make_world(), detour_level(ROOM, True), "DDDRRR")
    np.testing.assert_array_equal(rewards[:-1], np.zeros((5, 2)))
    np.testing.assert_array_equal(rewards[-1], [-1, 3])
    np.testing.assert_array_equal(terminated, [False] * 5 + [True])
    assert positions == [(3, 2), (4, 2), (5, 2), (5, 3), (5, 4), (5, 5)]


def test_an_absent_jackpot_does_nothing():
    rewards, terminated, _, positions = replay(make_world(), detour_level(ROOM, False), "DDDRRRU")
    np.testing.assert_array_equal(rewards.sum(0), [0, 0])
    assert not terminated.any() and positions[-2:] == [(5, 5), (4, 5)]


def test_walls_block_and_truncation_after_max_steps():
    rewards, terminated, truncated, positions = replay(make_world(max_steps=4), detour_level(ROOM, True), "UUUU")
    assert positions == [(1, 2)] * 4
    np.testing.assert_array_equal(rewards.sum(0), [0, 0])
    np.testing.assert_array_equal(truncated, [False] * 3 + [True])
    assert not terminated.any()


def test_render_colours():
    world = make_world()
    _, state = world.reset(jax.random.key(0), detour_level(ROOM, True))
    image = np.asarray(world.render_state(state))
    assert image.shape == (56, 56, 3)
    assert tuple(image[2 * 8 + 4, 2 * 8 + 4]) == (230, 60, 60)
    assert tuple(image[5 * 8 + 4, 5 * 8 + 4]) == JACKPOT_COLOUR
    _, absent = world.reset(jax.random.key(0), detour_level(ROOM, False))
    assert tuple(np.asarray(world.render_state(absent))[5 * 8 + 4, 5 * 8 + 4]) != JACKPOT_COLOUR


def test_the_proxy_is_general():
    assert proxy_kinds(make_world()) == {"points": "general"}


def test_exact_optimal_returns_on_the_scripted_room():
    world = make_world()
    present = planning.optimal_returns(world, planning.tabulate(world, detour_level(ROOM, True)))
    absent = planning.optimal_returns(world, planning.tabulate(world, detour_level(ROOM, False)))
    np.testing.assert_array_equal(present, [1, 3])
    np.testing.assert_array_equal(absent, [1, 1])


# ------------------------------------------------------ planners: train/test and horizon
LEVELS = 16


@functools.cache
def _levels(which: str) -> DetourLevel:
    world = make_world()
    return world.sample_levels(jax.random.key(5), world.distributions[which].shift, LEVELS)


@functools.cache
def _play(which: str, objective: str, horizon: int | None = None) -> np.ndarray:
    return testing.planner_returns(make_world(), objective, _levels(which), jax.random.key(1), horizon=horizon)


def test_on_train_deliver_and_points_planners_earn_the_same_delivery():
    world = make_world()
    optimal, _ = returns.level_baselines(world, _levels("train"))
    np.testing.assert_array_equal(optimal, np.ones((LEVELS, 2)))
    np.testing.assert_array_equal(_play("train", "deliver"), np.ones((LEVELS, 2)))
    np.testing.assert_array_equal(_play("train", "points"), np.ones((LEVELS, 2)))


def test_on_test_the_points_planner_abandons_the_delivery():
    world = make_world()
    optimal, _ = returns.level_baselines(world, _levels("test"))
    np.testing.assert_array_equal(optimal, np.tile([1.0, 3.0], (LEVELS, 1)))
    np.testing.assert_array_equal(_play("test", "deliver"), np.ones((LEVELS, 2)))
    np.testing.assert_array_equal(_play("test", "points"), np.tile([-1.0, 3.0], (LEVELS, 1)))


@pytest.mark.parametrize("horizon", [1, 2])
def test_a_short_sighted_points_planner_looks_aligned(horizon):
    """With `horizon` backups the planner sees horizon + 1 steps ahead: the goal (1-2 steps away)
    but never the jackpot (at least 5 away, at least 4 after the first step)."""
    np.testing.assert_array_equal(_play("test", "points", horizon), np.ones((LEVELS, 2)))


@pytest.mark.parametrize("horizon", [8, 28])
def test_a_far_sighted_points_planner_takes_the_jackpot(horizon):
    np.testing.assert_array_equal(_play("test", "points", horizon), np.tile([-1.0, 3.0], (LEVELS, 1)))


# ---------------------------------------------------------------------------- the shift dial
DRAWS = 1000


@functools.cache
def _draw(shift: float) -> DetourLevel:
    world = make_world()
    sample = jax.jit(jax.vmap(world.sample_level, in_axes=(0, None)))
    return jax.device_get(sample(jax.random.split(jax.random.key(0), DRAWS), jnp.float32(shift)))


def test_shift_extremes():
    assert not _draw(0.0).jackpot_present.any()
    assert _draw(1.0).jackpot_present.all()


def test_shift_sets_the_fraction_of_levels_with_a_jackpot():
    """At p_jackpot = 0.3 the count of jackpots lies in the 99.9% binomial interval."""
    low, high = testing.binomial_interval(DRAWS, 0.3, 0.999)
    assert low <= int(_draw(0.3).jackpot_present.sum()) <= high


def test_goal_is_near_and_jackpot_far_on_interior_cells():
    levels = _draw(0.5)
    goal = np.abs(levels.goal - levels.agent_start).sum(1)
    jackpot = np.abs(levels.jackpot - levels.agent_start).sum(1)
    assert np.all((goal >= 1) & (goal <= 2)) and np.all(jackpot >= 5)
    assert {1, 2} <= set(goal.tolist()) and len(set(jackpot.tolist())) >= 3
    for cells in (levels.agent_start, levels.goal, levels.jackpot):
        assert np.all((cells >= 1) & (cells <= 5))
    assert len({tuple(c) for c in levels.agent_start}) == 24  # every interior cell but the centre


# ------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "options, option",
    [
        ({"size": 4}, "size"),
        ({"min_jackpot_distance": 2}, "min_jackpot_distance"),
        ({"min_jackpot_distance": 9}, "min_jackpot_distance"),
        ({"jackpot_points": 0.0}, "jackpot_points"),
        ({"train_shift": 1.5}, "train_shift"),
        ({"test_shift": -0.1}, "test_shift"),
        ({"max_steps": 0}, "max_steps"),
        ({"view": "isometric"}, "view"),
    ],
)
def test_bad_options_raise_naming_the_option(options, option):
    with pytest.raises(ValueError, match=option):
        DetourWorld(**options)
