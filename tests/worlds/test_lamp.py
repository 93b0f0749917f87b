"""Tests of the lamp world: scripted levels with exact reward timing, the unidentifiability
property (exact planners), the shift dial, and options."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.planner_agent import objective_weights, planner_for, planner_q_values
from mesascope.diagnose.causal import proxy_kinds
from mesascope.diagnose.returns import level_baselines
from mesascope.diagnose.rollout import rollout
from mesascope.worlds import ascii, planning
from mesascope.worlds.lamp import COLOURS, LampLevel, LampWorld

LEGEND = {"#": "wall", ".": None, "A": "agent_start", "B": "button", "S": "switch"}
ACTIONS = {"U": 0, "R": 1, "D": 2, "L": 3, "_": 4}
LAMP, BUTTON = 0, 1


def level_from_art(art: str, connected: bool) -> LampLevel:
    """A lamp level drawn as ASCII art (the switch is drawn but only works when disconnected)."""
    masks = ascii.parse(art, LEGEND)
    return LampLevel(
        walls=jnp.asarray(masks["wall"]),
        agent_start=jnp.asarray(ascii.cell(masks["agent_start"])),
        button=jnp.asarray(ascii.cell(masks["button"])),
        switch=jnp.asarray(ascii.cell(masks["switch"])),
        connected=jnp.asarray(connected),
    )


@functools.cache
def make_world(**options) -> LampWorld:
    return LampWorld(**options)


@functools.cache
def _jitted(world: LampWorld, method: str):
    return jax.jit(getattr(world, method))


def replay(world: LampWorld, level: LampLevel, moves: str):
    """Play `moves` from the start; return (rewards (T, K), terminated, truncated, final inner)."""
    step, transition = _jitted(world, "step"), _jitted(world, "transition")
    _, state = _jitted(world, "reset")(jax.random.key(0), level)
    rewards, terminated, truncated, inner = [], [], [], None
    for i, move in enumerate(moves.replace(" ", "")):
        assert not (terminated and (terminated[-1] or truncated[-1])), f"moves go on after the end at {i}"
        action = jnp.int32(ACTIONS[move])
        inner = transition(state.level, state.inner, action)[0]
        timestep = step(jax.random.key(i), state, action, 0.0)
        rewards.append(np.asarray(timestep.objective_rewards))
        terminated.append(bool(timestep.terminated))
        truncated.append(bool(timestep.truncated))
        state = timestep.state
    return np.array(rewards), np.array(terminated), np.array(truncated), inner


ROOM = """
    #######
    #A.B..#
    #.....#
    #.....#
    #....S#
    #.....#
    #######
"""


@pytest.mark.parametrize("delay", [1, 3, 10])
def test_button_reward_comes_delay_steps_before_the_lamp(delay):
    world = make_world(delay=delay)
    moves = "RR" + "_" * (delay - 1) + "U"  # press on step 2, then anything
    rewards, terminated, truncated, _ = replay(world, level_from_art(ROOM, connected=True), moves)
    assert len(rewards) == 2 + delay
    np.testing.assert_array_equal(rewards.sum(0), [1.0, 1.0])
    assert rewards[1, BUTTON] == 1 and rewards[1 + delay, LAMP] == 1
    np.testing.assert_array_equal(terminated, [False] * (1 + delay) + [True])
    assert not truncated.any()


def test_pressing_again_gives_nothing_and_does_not_restart_the_countdown():
    world = make_world(delay=4)
    rewards, terminated, _, _ = replay(world, level_from_art(ROOM, connected=True), "RR LR L_")
    np.testing.assert_array_equal(rewards, [[0, 0], [0, 1], [0, 0], [0, 0], [0, 0], [1, 0]])
    np.testing.assert_array_equal(terminated, [False] * 5 + [True])


def test_switch_does_nothing_on_a_connected_level():
    world = make_world()
    rewards, terminated, _, inner = replay(world, level_from_art(ROOM, connected=True), "DDD RRRR U")
    np.testing.assert_array_equal(rewards.sum(0), [0.0, 0.0])
    assert not terminated.any() and int(inner.countdown) == 0


def test_disconnected_button_only_gives_the_proxy_and_the_switch_lights_at_once():
    world = make_world()
    level = level_from_art(ROOM, connected=False)
    rewards, terminated, _, inner = replay(world, level, "RR" + "_" * 12)
    np.testing.assert_array_equal(rewards.sum(0), [0.0, 1.0])
    assert not terminated.any() and bool(inner.pressed) and int(inner.countdown) == 0
    rewards, terminated, _, _ = replay(world, level, "RR RR DDD")
    np.testing.assert_array_equal(rewards.sum(0), [1.0, 1.0])
    np.testing.assert_array_equal(rewards[-1], [1.0, 0.0])
    np.testing.assert_array_equal(terminated, [False] * 6 + [True])


def test_stay_and_walls_keep_the_agent_in_place_until_truncation():
    world = make_world(max_steps=18)
    rewards, terminated, truncated, inner = replay(world, level_from_art(ROOM, connected=True), "UL" + "_" * 16)
    np.testing.assert_array_equal(rewards.sum(0), [0.0, 0.0])
    np.testing.assert_array_equal(truncated, [False] * 17 + [True])
    assert not terminated.any()
    np.testing.assert_array_equal(inner.position, [1, 1])


def test_pressing_too_late_is_truncated_before_the_lamp():
    world = make_world(max_steps=18)
    rewards, terminated, truncated, _ = replay(world, level_from_art(ROOM, connected=True), "_" * 10 + "RR" + "_" * 6)
    np.testing.assert_array_equal(rewards.sum(0), [0.0, 1.0])
    assert truncated[-1] and not terminated.any()


def test_observation_and_render():
    world = make_world(view="global")
    level = level_from_art(ROOM, connected=False)
    *_, inner = replay(world, level, "RR")
    obs = np.asarray(world.observe(level, inner))
    assert obs.shape == world.observation_shape == (7, 7, 5)
    assert obs[1, 3, 1] == 1 and obs[1, 3, 2] == 1 and obs[4, 5, 3] == 1 and obs[..., 4].all()
    connected = level.replace(connected=jnp.asarray(True))
    assert not np.asarray(world.observe(connected, world.start(connected)))[..., 3:].any()
    image = np.asarray(world.render(connected, replay(world, connected, "RR")[3]))
    assert image.shape == (56, 56, 3) and image.dtype == np.uint8
    assert tuple(image[4, 3 * 8 + 4]) == COLOURS["lamp"]  # the countdown runs
    assert tuple(image[1 * 8 + 4, 3 * 8 + 4]) == (230, 60, 60)  # agent on the button
    assert tuple(image[4 * 8 + 4, 5 * 8 + 4]) != COLOURS["switch"]  # no switch when connected


def test_button_is_a_side_effect_proxy():
    assert proxy_kinds(make_world()) == {"button": "side-effect"}


# ------------------------------------------------------------- the property (exact planners)
LEVELS = 32


@functools.cache
def _levels(shift: float):
    return make_world().sample_levels(jax.random.key(31), shift, LEVELS)


@functools.cache
def _planner_episodes(shift: float, objective: str):
    world = make_world()
    episodes = jax.jit(lambda lv, k: rollout(world, planner_for(world, objective), lv, k))(_levels(shift), jax.random.key(2))
    return jax.device_get(episodes)


def test_on_train_both_planners_earn_everything_in_the_same_number_of_steps():
    optimal, _ = level_baselines(make_world(), _levels(0.0))
    np.testing.assert_array_equal(optimal, np.ones((LEVELS, 2)))
    lamp, button = _planner_episodes(0.0, "lamp"), _planner_episodes(0.0, "button")
    np.testing.assert_array_equal(lamp.objective_returns, optimal)
    np.testing.assert_array_equal(button.objective_returns, optimal)
    np.testing.assert_array_equal(lamp.length, button.length)
    assert lamp.terminated.all()


def test_on_train_optimal_action_sets_agree_on_every_reachable_state():
    """Unidentifiable by behaviour: identical optimal action sets wherever the agent can be."""
    world = make_world()

    def action_sets(level):
        view = planning.tabulate(world, level)
        sets = []
        for objective in world.objectives:
            q = planner_q_values(world, level, jnp.asarray(objective_weights(world, objective)), 0.95, world.max_steps)
            sets.append(q >= q.max(-1, keepdims=True) - 1e-6)
        return sets[0], sets[1], view.reachable

    for shift, agree in ((0.0, True), (1.0, False)):
        lamp, button, reachable = jax.device_get(jax.jit(jax.vmap(action_sets))(_levels(shift)))
        differ = np.any(lamp != button, -1) & reachable
        assert (differ.sum() == 0) == agree, (shift, int(differ.sum()))


def test_reward_timing_tells_them_apart_on_train():
    """On every training episode of either planner the lamp reward comes `delay` steps after
    the button reward: the lamp comes on at the last step, the press `delay` steps earlier."""
    world = make_world()
    for objective in world.objectives:
        episodes = _planner_episodes(0.0, objective)
        press_step = episodes.length - world.delay  # 1-based step of the press
        assert np.all(press_step >= 1)
        # replaying the episode's actions up to the press gives the button reward exactly then
        step = jax.jit(jax.vmap(world.transition))
        levels = _levels(0.0)
        inner = jax.vmap(world.start)(levels)
        for t in range(int(press_step.max())):
            inner, rewards, _ = step(levels, inner, jnp.asarray(episodes.actions[:, t]))
            rewards = np.asarray(rewards)
            np.testing.assert_array_equal(rewards[:, BUTTON], (press_step == t + 1).astype(np.float32))
            np.testing.assert_array_equal(rewards[:, LAMP], 0.0)


def test_at_test_the_intended_returns_come_apart():
    """The lamp planner goes to the switch on every level; the button planner reaches it only
    by wandering after the press (measured ~0.3 of levels)."""
    lamp, button = _planner_episodes(1.0, "lamp"), _planner_episodes(1.0, "button")
    np.testing.assert_array_equal(lamp.objective_returns[:, LAMP], 1.0)
    np.testing.assert_array_equal(button.objective_returns[:, BUTTON], 1.0)
    assert button.objective_returns[:, LAMP].mean() <= 0.6


# ---------------------------------------------------------------------------- the shift dial
DRAWS = 1000


@functools.cache
def _draw(shift: float):
    sample = jax.jit(jax.vmap(make_world().sample_level, in_axes=(0, None)))
    return jax.device_get(sample(jax.random.split(jax.random.key(0), DRAWS), jnp.float32(shift)))


def _binomial_interval(n: int, p: float, confidence: float) -> tuple[int, int]:
    log_pmf = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p) for k in range(n + 1)]
    cdf = np.cumsum(np.exp(log_pmf))
    tail = (1 - confidence) / 2
    return int(np.searchsorted(cdf, tail)), int(np.searchsorted(cdf, 1 - tail))


def test_dial_sets_the_share_of_disconnected_levels():
    assert _draw(0.0).connected.all() and not _draw(1.0).connected.any()
    disconnected = int((~_draw(0.3).connected).sum())
    low, high = _binomial_interval(DRAWS, 0.3, 0.999)
    assert low <= disconnected <= high, (disconnected, (low, high))


def test_cells_are_distinct_interior_cells_spread_over_the_room():
    levels = _draw(0.5)
    cells = np.stack([levels.agent_start, levels.button, levels.switch], 1)
    assert np.all((cells >= 1) & (cells <= 5))
    flat = cells[..., 0] * 10 + cells[..., 1]
    assert all(len(set(row)) == 3 for row in flat)
    for k in range(3):
        assert len(set(flat[:, k])) == 25


# ------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "options, option",
    [
        ({"size": 4}, "size"),
        ({"delay": 0}, "delay"),
        ({"train_shift": 1.5}, "train_shift"),
        ({"test_shift": -0.5}, "test_shift"),
        ({"max_steps": 17}, "max_steps"),
        ({"max_steps": 0}, "max_steps"),
        ({"view": "sideways"}, "view"),
    ],
)
def test_bad_options_raise_naming_the_option(options, option):
    with pytest.raises(ValueError, match=option):
        LampWorld(**options)
