"""Exact tests of the disjoint-union world: rewards, termination, tabular view and observations
are the component's, placed at the union's indices; bad unions are refused with clear errors.
(The world contract runs on the registered default union in test_contract.py.)"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope import testing, worlds
from mesascope.worlds import ascii, planning
from mesascope.worlds.coin import CoinLevel
from mesascope.worlds.union import UnionLevel

COIN_ART = """
    #########
    #.......#
    #.......#
    #.......#
    #A.C...E#
    #.......#
    #.......#
    #.......#
    #########
"""


@functools.cache
def union(components: str = "coin,corner", reveal_task: bool = True) -> worlds.World:
    return worlds.make(f"union:{components}", reveal_task=reveal_task)


def with_task(world, level: UnionLevel, task: int, part=None) -> UnionLevel:
    """`level` playing component `task` (its part replaced by `part` when given)."""
    parts = tuple(part if (j == task and part is not None) else p for j, p in enumerate(level.parts))
    walls = world._pad_grid(~world.components[task].floor_mask(parts[task]))
    return UnionLevel(task=jnp.int32(task), walls=walls, parts=parts)


def coin_level() -> CoinLevel:
    masks = ascii.parse(COIN_ART, {"#": "wall", ".": None, "A": "agent_start", "C": "coin", "E": "exit"})
    return CoinLevel(jnp.asarray(masks["wall"]), jnp.asarray(ascii.cell(masks["agent_start"])), jnp.asarray(ascii.cell(masks["coin"])), jnp.asarray(ascii.cell(masks["exit"])))


def test_hand_drawn_coin_level_scores_intended_and_prefixed_proxy():
    world = union()
    base = world.sample_level(jax.random.key(0), jnp.float32(1.0))
    level = with_task(world, base, 0, coin_level())
    assert world.objectives == ("intended", "coin/exit", "corner/corner")
    coin = testing.replay(world, level, "RR")  # two steps right: the coin
    np.testing.assert_array_equal(coin.returns, [1, 0, 0])
    assert coin.terminated.tolist() == [False, True]
    exit_ = testing.replay(world, level, "URRRRRRD")  # round the coin to the exit
    np.testing.assert_array_equal(exit_.returns, [0, 1, 0])
    assert exit_.terminated[-1] and not exit_.terminated[:-1].any()


@pytest.mark.parametrize("task", [0, 1])
def test_rollouts_equal_the_components_with_rewards_at_union_indices(task):
    world = union()
    component = world.components[task]
    level = with_task(world, world.sample_level(jax.random.key(task + 3), jnp.float32(1.0)), task)
    moves = "".join(np.random.default_rng(task).choice(list("URDL"), 12))
    ours = testing.replay(world, level, moves[: _length(component, level.parts[task], moves)])
    theirs = testing.replay(component, level.parts[task], moves[: _length(component, level.parts[task], moves)])
    index = world._reward_index[task]
    np.testing.assert_array_equal(ours.rewards[:, index], theirs.rewards)
    others = np.setdiff1d(np.arange(world.num_objectives), index)
    assert not ours.rewards[:, others].any()
    np.testing.assert_array_equal(ours.terminated, theirs.terminated)
    assert ours.positions == theirs.positions


def _length(world, level, moves: str) -> int:
    """How many of `moves` can be played before the episode ends (inclusive)."""
    for n in range(1, len(moves) + 1):
        replay = testing.replay(world, level, moves[:n])
        if replay.terminated[-1] or replay.truncated[-1]:
            return n
    return len(moves)


def test_tabular_view_is_the_components_side_by_side():
    world = union()
    level = world.sample_level(jax.random.key(5), jnp.float32(1.0))

    def views(level):
        out = []
        for c, component in enumerate(world.components):
            view = planning.tabulate(world, with_task(world, level, c))
            own = planning.optimal_returns(component, planning.tabulate(component, level.parts[c]))
            out.append((planning.optimal_returns(world, view), own, view.start))
        return out

    for c, (joined, own, start) in enumerate(jax.jit(views)(level)):
        expected = np.zeros(world.num_objectives)
        expected[world._reward_index[c]] = np.asarray(own)
        np.testing.assert_allclose(np.asarray(joined), expected, atol=1e-6)
        assert world._offsets[c] <= int(start) < world._offsets[c + 1]


def test_observations_pad_and_reveal_the_task():
    hidden, shown = union(reveal_task=False), union()
    assert not any(name.startswith("task:") for name in hidden.observation_channels)
    level = shown.sample_level(jax.random.key(1), jnp.float32(0.0))
    for c, component in enumerate(shown.components):
        chosen = with_task(shown, level, c)
        obs = np.asarray(shown.observe(chosen, shown.start(chosen)))
        own = np.asarray(component.observe(chosen.parts[c], component.start(chosen.parts[c])))
        pad = (obs.shape[0] - own.shape[0]) // 2  # egocentric views are padded evenly about the agent
        window = obs[pad : pad + own.shape[0], pad : pad + own.shape[1]]
        for k, name in enumerate(component.observation_channels):
            np.testing.assert_array_equal(window[..., shown.observation_channels.index(name)], own[..., k])
        if pad:
            assert obs[0, :, shown.observation_channels.index("wall")].all()  # padding reads as wall
        task_planes = [obs[..., shown.observation_channels.index(f"task:{n}")].all() for n in shown.component_names]
        assert task_planes == [j == c for j in range(2)]


def test_three_catalogue_worlds_join_and_draw_every_task():
    world = union("coin,corner,keys_chests")
    tasks = np.asarray(jax.jit(jax.vmap(world.sample_level, in_axes=(0, None)))(jax.random.split(jax.random.key(0), 150), 0.0).task)
    counts = np.bincount(tasks, minlength=3)
    for count in counts:  # uniform over 3 tasks (150 draws): each within its 99.9% binomial interval
        low, high = testing.binomial_interval(150, 1 / 3, 0.999)
        assert low <= count <= high
    assert world.num_tabular_states == sum(w.num_tabular_states for w in world.components)


@pytest.mark.parametrize(
    "components, message",
    [("coin,lamp", "different actions"), ("coin", "at least two"), ("coin,coin", "at least two"), ("coin,nowhere", "unknown or nested world 'nowhere'")],
)
def test_bad_unions_are_refused(components, message):
    with pytest.raises(ValueError, match=message):
        worlds.make(f"union:{components}")


def test_colon_argument_only_for_combinators():
    with pytest.raises(ValueError, match="takes no ':' argument"):
        worlds.make("coin:corner")
    assert worlds.registry.is_known("union:coin,corner") and not worlds.registry.is_known("coin:x")


def test_options_of_a_named_union_show_its_components():
    """`mesascope config union:a,b,c` lists the options with the components the name sets."""
    assert worlds.registry.options("union:coin,corner,keys_chests")["components"] == "coin,corner,keys_chests"
    assert worlds.registry.options("union")["components"] == worlds.registry.options("union:coin,corner")["components"] == "coin,corner"
