"""Exact planning checked against brute force written independently in plain Python.

The reference simulates the coin rules directly (move unless a wall is in the way; entering the
coin or the exit pays that objective and ends the episode), then computes optimal returns by
breadth-first search, the uniform random policy's returns by finite-horizon dynamic programming,
the reachable set by depth-limited search, and discounted action values by value iteration.
"""

from __future__ import annotations

import functools
from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.worlds import ascii, planning
from mesascope.worlds.coin import CoinLevel, CoinWorld

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left
LEGEND = {"#": "wall", ".": None, "A": "agent_start", "C": "coin", "E": "exit", "$": ("coin", "exit")}


class Reference:
    """The coin world on one level, in plain Python."""

    def __init__(self, level: CoinLevel, max_steps: int):
        self.walls = np.asarray(level.walls)
        self.start = tuple(int(v) for v in level.agent_start)
        self.coin = tuple(int(v) for v in level.coin)
        self.exit = tuple(int(v) for v in level.exit)
        self.max_steps = max_steps
        self.size = self.walls.shape[1]

    def step(self, cell, action):
        """(next cell, (coin reward, exit reward), terminated)."""
        target = (cell[0] + MOVES[action][0], cell[1] + MOVES[action][1])
        if self.walls[target]:
            target = cell
        rewards = (float(target == self.coin), float(target == self.exit))
        return target, rewards, target in (self.coin, self.exit)

    def shortest_path(self, goal):
        """Fewest steps from the start to entering `goal`, never entering another ending cell."""
        dist, queue = {self.start: 0}, deque([self.start])
        while queue:
            cell = queue.popleft()
            for action in range(4):
                nxt, _, terminated = self.step(cell, action)
                if nxt == goal:
                    return dist[cell] + 1
                if not terminated and nxt not in dist:
                    dist[nxt] = dist[cell] + 1
                    queue.append(nxt)
        return None

    def optimal_returns(self):
        """G* per objective: 1 if the objective's cell can be entered within max_steps."""
        out = []
        for goal in (self.coin, self.exit):
            length = self.shortest_path(goal)
            out.append(1.0 if length is not None and length <= self.max_steps else 0.0)
        return np.array(out)

    def random_returns(self):
        """Expected return per objective of the uniform random policy over max_steps steps."""

        @functools.cache
        def value(cell, steps_left):
            if steps_left == 0:
                return np.zeros(2)
            total = np.zeros(2)
            for action in range(4):
                nxt, rewards, terminated = self.step(cell, action)
                total += np.array(rewards) + (0.0 if terminated else value(nxt, steps_left - 1))
            return total / 4

        return value(self.start, self.max_steps)

    def reachable(self):
        """Tabular indices (row-major cells; size**2 for 'ended') reachable within max_steps."""
        absorbing = self.size * self.size
        seen, frontier = {self.start}, {self.start}
        ended = False
        for _ in range(self.max_steps):
            new = set()
            for cell in frontier:
                for action in range(4):
                    nxt, _, terminated = self.step(cell, action)
                    if terminated:
                        ended = True
                    elif nxt not in seen:
                        new.add(nxt)
            seen |= new
            frontier = new
        indices = {r * self.size + c for r, c in seen}
        return indices | ({absorbing} if ended else set())

    def discounted_q(self, gamma, iterations=400):
        """Optimal discounted Q per objective for every free cell, {cell: (2, 4) array}."""
        cells = [tuple(c) for c in np.argwhere(~self.walls)]
        values = {cell: np.zeros(2) for cell in cells}
        for _ in range(iterations):
            q = {cell: self._q(cell, values, gamma) for cell in cells}
            values = {cell: q[cell].max(-1) for cell in cells}
        return {cell: self._q(cell, values, gamma) for cell in cells}

    def _q(self, cell, values, gamma):
        q = np.zeros((2, 4))
        for action in range(4):
            nxt, rewards, terminated = self.step(cell, action)
            q[:, action] = np.array(rewards) + (0.0 if terminated else gamma * values[nxt])
        return q


def _stack(levels: list[CoinLevel]) -> CoinLevel:
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *levels)


def _unstack(levels: CoinLevel, count: int) -> list[CoinLevel]:
    return [jax.tree.map(lambda leaf: np.asarray(leaf[i]), levels) for i in range(count)]


@functools.cache
def _plan_fn(world: CoinWorld):
    def plan(level):
        view = planning.tabulate(world, level)
        return view, planning.optimal_returns(world, view), planning.random_returns(world, view)

    return jax.jit(jax.vmap(plan))


@functools.cache
def _open_world(size: int, max_steps: int | None) -> CoinWorld:
    return CoinWorld(size=size, layout="open", max_steps=max_steps)


def _open_levels(size: int, max_steps: int | None, count: int = 6):
    world = _open_world(size, max_steps)
    keys = jax.random.split(jax.random.key(size * 100 + (max_steps or 0)), count)
    shifts = jnp.linspace(0.0, 1.0, count, dtype=jnp.float32)
    levels = jax.vmap(world.sample_level)(keys, shifts)
    return world, levels


CASES = [(5, None), (5, 3), (6, 4), (6, None), (7, 5), (7, None)]


@pytest.mark.parametrize("size, max_steps", CASES)
def test_optimal_and_random_returns_match_brute_force(size, max_steps):
    world, levels = _open_levels(size, max_steps)
    view, optimal, random = jax.device_get(_plan_fn(world)(levels))
    for i, level in enumerate(_unstack(levels, 6)):
        reference = Reference(level, world.max_steps)
        np.testing.assert_array_equal(optimal[i], reference.optimal_returns(), err_msg=f"level {i}")
        np.testing.assert_allclose(random[i], reference.random_returns(), rtol=1e-5, atol=1e-6, err_msg=f"level {i}")
        assert set(np.flatnonzero(view.reachable[i])) == reference.reachable(), f"level {i}"


def test_short_horizons_give_zero_optimal_returns():
    """The brute-force comparison is not vacuous: some cases above are out of reach."""
    zeros = 0
    for size, max_steps in CASES:
        world, levels = _open_levels(size, max_steps)
        optimal = np.asarray(_plan_fn(world)(levels)[1])
        zeros += int((optimal == 0).sum())
    assert zeros > 0


HAND_MADE = [
    """
    #######
    #A#..E#
    #.###.#
    #...#C#
    ###.#.#
    #.....#
    #######
    """,
    """
    #####
    #A.C#
    #.#.#
    #..E#
    #####
    """,
    """
    #######
    #A....#
    #.###.#
    #.#$#.#
    #.#.#.#
    #.....#
    #######
    """,
]


@pytest.mark.parametrize("art", HAND_MADE)
@pytest.mark.parametrize("max_steps", [4, 10, None])
def test_hand_made_levels_match_brute_force(art, max_steps):
    masks = ascii.parse(art, LEGEND)
    level = CoinLevel(
        walls=jnp.asarray(masks["wall"]),
        agent_start=jnp.asarray(ascii.cell(masks["agent_start"])),
        coin=jnp.asarray(ascii.cell(masks["coin"])),
        exit=jnp.asarray(ascii.cell(masks["exit"])),
    )
    world = _open_world(masks["wall"].shape[0], max_steps)
    view, optimal, random = jax.device_get(_plan_fn(world)(_stack([level])))
    reference = Reference(level, world.max_steps)
    np.testing.assert_array_equal(optimal[0], reference.optimal_returns())
    np.testing.assert_allclose(random[0], reference.random_returns(), rtol=1e-5, atol=1e-6)
    assert set(np.flatnonzero(view.reachable[0])) == reference.reachable()


def test_discounted_q_values_match_value_iteration():
    world, levels = _open_levels(5, None, count=3)
    gamma = 0.9
    q = jax.device_get(jax.jit(jax.vmap(lambda level: planning.discounted_q_values(planning.tabulate(world, level), gamma, 200)))(levels))
    for i, level in enumerate(_unstack(levels, 3)):
        reference = Reference(level, world.max_steps).discounted_q(gamma)
        for (r, c), expected in reference.items():
            np.testing.assert_allclose(q[i][:, r * world.size + c], expected, rtol=1e-5, atol=1e-6)
        absorbing = world.num_tabular_states
        np.testing.assert_array_equal(q[i][:, absorbing], np.zeros((2, 4)))


def test_normalised_q_values_lie_in_unit_interval_on_reachable_states():
    world, levels = _open_levels(7, None, count=3)
    fn = jax.jit(jax.vmap(lambda level: (lambda view: (planning.normalised_q_values(view, 0.9, 100), view.reachable))(planning.tabulate(world, level))))
    q, reachable = jax.device_get(fn(levels))
    for i in range(3):
        values = q[i][:, reachable[i]]
        assert values.min() >= 0.0 and values.max() <= 1.0
        for k in range(world.num_objectives):
            span = values[k].max() - values[k].min()
            assert span == pytest.approx(1.0) or span == 0.0
