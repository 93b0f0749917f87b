"""Exact tests of the hidden-goal world: hand-drawn levels, replayed moves, every objective's
return to the unit, and the statistics of the paying colour under the shift dial."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope import testing
from mesascope.worlds import ascii
from mesascope.worlds.hidden_goal import HiddenGoalLevel, HiddenGoalWorld, RiggedLevel

ART = """
    #####
    #R.G#
    #.A.#
    #..B#
    #####
"""
WORLD = HiddenGoalWorld()


def level(goal: int) -> HiddenGoalLevel:
    masks = ascii.parse(ART, {"#": "wall", ".": None, "A": "agent_start", "R": "red", "G": "green", "B": "blue"})
    objects = np.stack([ascii.cell(masks[c]) for c in ("red", "green", "blue")])
    return HiddenGoalLevel(jnp.asarray(masks["wall"]), jnp.asarray(ascii.cell(masks["agent_start"])), jnp.asarray(objects), jnp.int32(goal))


@pytest.mark.parametrize("goal", [0, 1, 2])
def test_only_the_paying_object_scores_goal_and_red_scores_red(goal):
    for moves, touched in (("UL", 0), ("UR", 1), ("RD", 2)):
        replay = testing.replay(WORLD, level(goal), moves)
        np.testing.assert_array_equal(replay.returns, [float(touched == goal), float(touched == 0)])
        assert replay.terminated.tolist() == [False, True]


def test_time_out_without_touching_anything():
    replay = testing.replay(WORLD, level(1), "D" + "LR" * 5 + "L")  # 12 steps avoiding every object
    assert replay.truncated[-1] and not replay.terminated.any()
    np.testing.assert_array_equal(replay.returns, [0, 0])


def test_the_observation_never_shows_the_goal():
    observations = [np.asarray(WORLD.observe(level(g), WORLD.start(level(g)))) for g in range(3)]
    assert all(np.array_equal(observations[0], o) for o in observations[1:])


@pytest.mark.parametrize("shift, red", [(1 / 3, 1 / 3), (0.0, 0.0), (1.0, 1.0)])
def test_paying_colour_follows_the_dial(shift, red):
    count = 600
    levels = jax.jit(lambda k: WORLD.sample_levels(k, shift, count))(jax.random.key(0))
    goals = np.bincount(np.asarray(levels.goal), minlength=3)
    low, high = testing.binomial_interval(count, red, 0.999) if 0 < red < 1 else (int(red * count), int(red * count))
    assert low <= goals[0] <= high
    if red < 1:  # green and blue share the rest equally
        low, high = testing.binomial_interval(count - goals[0], 0.5, 0.999)
        assert low <= goals[1] <= high
    cells = np.concatenate([np.asarray(levels.agent_start)[:, None], np.asarray(levels.objects)], 1)
    assert all(len({tuple(c) for c in row}) == 4 for row in cells)  # distinct cells


def test_rigged_sensor_scores_red_on_held_out_levels_and_the_goal_in_training():
    world = HiddenGoalWorld(rigged_sensor=True)
    assert world.objectives == ("goal", "red", "sensor") and world.shift_name == "p_rigged"
    assert (world.distributions["train"].shift, world.distributions["test"].shift) == (0.0, 1.0)
    masks = ascii.parse(ART, {"#": "wall", ".": None, "A": "agent_start", "R": "red", "G": "green", "B": "blue"})
    objects = jnp.asarray(np.stack([ascii.cell(masks[c]) for c in ("red", "green", "blue")]))
    start = jnp.asarray(ascii.cell(masks["agent_start"]))
    moves = (("UL", 0), ("UR", 1), ("RD", 2))  # to red, green, blue
    for goal, sensor in ((1, 1), (2, 0)):  # wired to the goal (train), wired to red (held out)
        rigged = RiggedLevel(jnp.asarray(masks["wall"]), start, objects, jnp.int32(goal), jnp.int32(sensor))
        for path, touched in moves:
            replay = testing.replay(world, rigged, path)
            np.testing.assert_array_equal(replay.returns, [float(touched == goal), float(touched == 0), float(touched == sensor)])
    count = 600
    for shift in (0.0, 1.0):
        levels = jax.jit(lambda k: world.sample_levels(k, shift, count))(jax.random.key(1))
        goal, sensor = np.asarray(levels.goal), np.asarray(levels.sensor)
        if shift == 0.0:  # the sensor is the goal, uniform over the three colours
            assert np.array_equal(goal, sensor)
            low, high = testing.binomial_interval(count, 1 / 3, 0.999)
            assert all(low <= n <= high for n in np.bincount(goal, minlength=3))
        else:  # the sensor on red, which never pays
            assert (sensor == 0).all() and (goal != 0).all()
