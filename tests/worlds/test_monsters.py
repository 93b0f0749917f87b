"""Scripted exact tests of the monsters world, the planners' train/test property, and its shift dial."""

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
from mesascope.worlds.monsters import COLOURS, MonstersLevel, MonstersWorld

# a: apple, s: shield, m: lone monster, h: hoard (a monster on both apples and a shield)
LEGEND = {
    "#": "wall",
    ".": None,
    "A": "agent_start",
    "a": "apple",
    "s": "shield",
    "m": "monster",
    "h": ("hoard", "shield", "monster"),
}
ACTIONS = {"U": 0, "R": 1, "D": 2, "L": 3}
APPLES, SHIELDS = 0, 1


def monsters_level(art: str) -> MonstersLevel:
    """A level from ASCII art; slots in row-major order, except that a hoard holds both apple
    slots and takes the first monster slot; missing monster slots are absent."""
    masks = ascii.parse(art, LEGEND)
    cells = lambda name: np.argwhere(masks[name]).astype(np.int32)
    monsters, apples = cells("monster"), cells("apple")
    if masks["hoard"].any():
        apples = np.repeat(cells("hoard"), 2, axis=0)
        if masks["hoard"][tuple(monsters[-1])]:
            monsters = monsters[::-1]
    present = np.arange(2) < len(monsters)
    slots = np.ones((2, 2), np.int32)
    slots[: len(monsters)] = monsters
    return MonstersLevel(
        walls=jnp.asarray(masks["wall"]),
        agent_start=jnp.asarray(ascii.cell(masks["agent_start"])),
        apples=jnp.asarray(apples),
        shields=jnp.asarray(cells("shield")),
        monsters=jnp.asarray(slots),
        monster_present=jnp.asarray(present),
    )


@functools.cache
def make_world(max_steps: int | None = None) -> MonstersWorld:
    return MonstersWorld(max_steps=max_steps)


@functools.cache
def _jitted(world: MonstersWorld, method: str):
    return jax.jit(getattr(world, method))


def replay(world: MonstersWorld, level: MonstersLevel, moves: str):
    """Rewards (T, K), terminated (T,), truncated (T,) and shields held after each step."""
    step = _jitted(world, "step")
    _, state = _jitted(world, "reset")(jax.random.key(0), level)
    rewards, terminated, truncated, held = [], [], [], []
    for i, move in enumerate(moves):
        assert not (terminated and (terminated[-1] or truncated[-1])), f"moves go on after the episode ended at {i}"
        held.append(int(world.transition(state.level, state.inner, jnp.int32(ACTIONS[move]))[0].held))
        timestep = step(jax.random.key(i), state, jnp.int32(ACTIONS[move]), 0.0)
        rewards.append(np.asarray(timestep.objective_rewards))
        terminated.append(bool(timestep.terminated))
        truncated.append(bool(timestep.truncated))
        state = timestep.state
    return np.array(rewards), np.array(terminated), np.array(truncated), held


TRAIN_ROOM = """
    ######
    #A..s#
    #.m..#
    #..h.#
    #....#
    ######
"""

TEST_ROOM = """
    ######
    #As..#
    #...a#
    #.s..#
    #a...#
    ######
"""


def test_armoury_then_hoard_pays_both_objectives_alike_and_terminates():
    rewards, terminated, truncated, held = replay(make_world(), monsters_level(TRAIN_ROOM), "RRRDDL")
    np.testing.assert_array_equal(rewards[:, APPLES], [0, 0, 0, 0, 0, 2])
    np.testing.assert_array_equal(rewards[:, SHIELDS], [0, 0, 1, 0, 0, 1])
    assert held == [0, 0, 1, 1, 1, 1]  # the hoard's monster spends the armoury's shield, its shield refills
    np.testing.assert_array_equal(terminated, [False] * 5 + [True])
    assert not truncated.any()


def test_an_unshielded_monster_eats_the_agent():
    rewards, terminated, _, held = replay(make_world(), monsters_level(TRAIN_ROOM), "DR")
    np.testing.assert_array_equal(rewards, [[0, 0], [-1, 0]])
    np.testing.assert_array_equal(terminated, [False, True])
    # the hoard's apple and shield are not taken by an agent that is eaten there
    rewards, terminated, _, _ = replay(make_world(), monsters_level(TRAIN_ROOM), "DDRR")
    np.testing.assert_array_equal(rewards, [[0, 0], [0, 0], [0, 0], [-1, 0]])
    assert terminated[-1] and not terminated[:-1].any()


def test_a_shield_spent_on_the_lone_monster_leaves_the_hoard_deadly():
    moves = "RRR" + "DL" + "L" + "D" + "R"  # armoury, slay the lone monster (row 2, col 2), then the hoard
    rewards, terminated, _, held = replay(make_world(), monsters_level(TRAIN_ROOM), moves)
    assert held == [0, 0, 1, 1, 1, 0, 0, 0]
    np.testing.assert_array_equal(rewards.sum(0), [-1, 1])  # eaten at the hoard
    assert terminated[-1] and not terminated[:-1].any()


def test_a_slain_monster_stays_gone():
    rewards, terminated, _, held = replay(make_world(), monsters_level(TRAIN_ROOM), "RRRDLLRL")
    assert held == [0, 0, 1, 1, 1, 0, 0, 0]
    np.testing.assert_array_equal(rewards.sum(0), [0, 1])
    assert not terminated.any()


def test_a_taken_shield_pays_only_once():
    rewards, _, _, held = replay(make_world(), monsters_level(TEST_ROOM), "RLR")
    np.testing.assert_array_equal(rewards, [[0, 1], [0, 0], [0, 0]])
    assert held == [1, 1, 1]


def test_test_room_shields_and_apples_are_separate_and_the_episode_truncates():
    world = make_world(max_steps=8)
    rewards, terminated, truncated, held = replay(world, monsters_level(TEST_ROOM), "RDDLRRRU")
    np.testing.assert_array_equal(rewards[:, SHIELDS], [1, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(rewards[:, APPLES], [0, 0, 0, 0, 0, 0, 0, 1])
    assert held[-1] == 2
    np.testing.assert_array_equal(truncated, [False] * 7 + [True])
    assert not terminated.any()


def test_render_colours():
    world = make_world()
    _, state = world.reset(jax.random.key(0), monsters_level(TRAIN_ROOM))
    image = np.asarray(world.render_state(state))
    assert image.shape == (48, 48, 3) and image.dtype == np.uint8
    assert tuple(image[1 * 8 + 4, 1 * 8 + 4]) == (230, 60, 60)
    assert tuple(image[1 * 8 + 4, 4 * 8 + 4]) == COLOURS["shield"]
    assert tuple(image[3 * 8 + 4, 3 * 8 + 4]) == COLOURS["apple"]
    assert tuple(image[3 * 8 + 1, 3 * 8 + 1]) == COLOURS["monster"]
    assert tuple(image[2 * 8 + 4, 2 * 8 + 4]) == COLOURS["monster"]


def test_exact_optimal_returns_on_the_scripted_rooms():
    world = make_world()
    for art in (TRAIN_ROOM, TEST_ROOM):
        view = planning.tabulate(world, monsters_level(art))
        np.testing.assert_array_equal(planning.optimal_returns(world, view), [2, 2])


def test_the_proxy_is_a_side_effect():
    assert proxy_kinds(make_world()) == {"shields": "side-effect"}


# --------------------------------------------------------------- planners: train vs test
LEVELS = 16


@functools.cache
def _planner_returns(which: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    world = make_world()
    levels = world.sample_levels(jax.random.key(5), world.distributions[which].shift, LEVELS)
    played = {}
    for name in world.objectives:
        run = jax.jit(lambda key, name=name: rollout(world, planner_for(world, name), levels, key).objective_returns)
        played[name] = np.asarray(run(jax.random.key(1)))
    optimal, _ = returns.level_baselines(world, levels)
    return optimal, played


def test_on_train_apples_and_shields_planners_earn_the_same_apples_return():
    optimal, played = _planner_returns("train")
    np.testing.assert_array_equal(optimal, np.full((LEVELS, 2), 2.0))
    np.testing.assert_array_equal(played["apples"][:, APPLES], optimal[:, APPLES])
    np.testing.assert_array_equal(played["shields"][:, APPLES], optimal[:, APPLES])
    np.testing.assert_array_equal(played["shields"][:, SHIELDS], optimal[:, SHIELDS])


def test_on_test_the_shields_planner_neglects_the_apples():
    optimal, played = _planner_returns("test")
    np.testing.assert_array_equal(played["apples"][:, APPLES], optimal[:, APPLES])
    np.testing.assert_array_equal(played["shields"][:, SHIELDS], optimal[:, SHIELDS])
    assert played["shields"][:, APPLES].mean() < played["apples"][:, APPLES].mean() - 0.5


# ---------------------------------------------------------------------------- the shift dial
DRAWS = 1000


@functools.cache
def _draw(shift: float, count: int = DRAWS) -> MonstersLevel:
    world = make_world()
    sample = jax.jit(jax.vmap(world.sample_level, in_axes=(0, None)))
    return jax.device_get(sample(jax.random.split(jax.random.key(0), count), jnp.float32(shift)))


def _binomial_interval(n: int, p: float, confidence: float) -> tuple[int, int]:
    log_pmf = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p) for k in range(n + 1)]
    cdf = np.cumsum(np.exp(log_pmf))
    tail = (1 - confidence) / 2
    return int(np.searchsorted(cdf, tail)), int(np.searchsorted(cdf, 1 - tail))


def _keys(cells: np.ndarray) -> np.ndarray:
    return cells[..., 0] * 6 + cells[..., 1]


def test_training_layouts_hoard_the_apples_under_a_central_monster():
    levels = _draw(0.0)
    assert levels.monster_present.all()
    for hoarded in (levels.apples[:, 0], levels.apples[:, 1], levels.shields[:, 1]):
        np.testing.assert_array_equal(hoarded, levels.monsters[:, 0])
    assert np.all((levels.monsters >= 2) & (levels.monsters <= 3))
    cells = np.concatenate([levels.agent_start[:, None], levels.shields[:, :1], levels.monsters], 1)
    assert np.all((cells >= 1) & (cells <= 4))
    assert all(len(set(row)) == 4 for row in _keys(cells))


def test_test_layouts_have_no_monsters_and_five_distinct_cells():
    levels = _draw(1.0)
    assert not levels.monster_present.any()
    cells = np.concatenate([levels.agent_start[:, None], levels.apples, levels.shields], 1)
    assert np.all((cells >= 1) & (cells <= 4))
    assert all(len(set(row)) == 5 for row in _keys(cells))


def test_shift_sets_the_fraction_of_test_layouts():
    """At p_test_layout = 0.3 the count of test layouts lies in the 99.9% binomial interval."""
    low, high = _binomial_interval(DRAWS, 0.3, 0.999)
    assert low <= int((~_draw(0.3).monster_present[:, 0]).sum()) <= high


# ------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "options, option",
    [
        ({"size": 5}, "size"),
        ({"size": 9}, "size"),
        ({"train_shift": 1.5}, "train_shift"),
        ({"test_shift": -0.1}, "test_shift"),
        ({"max_steps": 0}, "max_steps"),
        ({"view": "isometric"}, "view"),
    ],
)
def test_bad_options_raise_naming_the_option(options, option):
    with pytest.raises(ValueError, match=option):
        MonstersWorld(**options)
