"""Contract tests run over every registered world, so a new world is covered by registering it.

Each world is built with its default options. The expensive pieces (one jitted random rollout
per world, recorded step by step together with the world's own tabular view) are computed once
per world object and shared by the tests that read them. The tests take the world from the
`world` fixture and look nothing up by name, so a module that defines its own `world` fixture
can rerun them on worlds that are not registered (wrappers; see
tests/experiments/test_level_mix_contract.py).
"""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from mesascope import worlds
from mesascope.worlds import grid, planning
from mesascope.worlds.gridworld import GridWorld
from mesascope.testing import agent_cell

NAMES = worlds.names()
BATCH = 12  # environments per rollout: small, the test machine has two shared cores


@functools.cache
def _world(name: str) -> worlds.World:
    return worlds.make(name)


@functools.cache
def _jit(world: worlds.World, method: str):
    """A jitted world method, compiled once per world object and shared by the tests."""
    return jax.jit(getattr(world, method))


def _start(world: worlds.World, seed: int, shift: float):
    """A fresh state on a level drawn with `shift`."""
    level = _jit(world, "sample_level")(jax.random.key(seed), jnp.float32(shift))
    return _jit(world, "reset")(jax.random.key(seed + 1), level)[1]


@pytest.fixture(params=NAMES, scope="module")
def world(request) -> worlds.World:
    return _world(request.param)


def _shifts(world: worlds.World) -> tuple[float, float]:
    return world.distributions["train"].shift, world.distributions["test"].shift


def _take(tree, index):
    """Element `index` of a batched pytree."""
    return jax.tree.map(lambda leaf: leaf[index], tree)


def _trees_equal(a, b) -> bool:
    if jax.tree.structure(a) != jax.tree.structure(b):
        return False
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _signature(tree):
    """Tree structure plus (shape, dtype) of every leaf."""
    return jax.tree.structure(tree), [(leaf.shape, leaf.dtype) for leaf in jax.tree.leaves(tree)]


# ---------------------------------------------------------------------- the shared rollout
def _same_tree(a, b) -> jax.Array:
    """Whether two pytrees of arrays are equal everywhere (traceable)."""
    return jnp.all(jnp.stack([jnp.all(x == y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))]))


def _random_rollout(world: worlds.World, key: jax.Array, shift: jax.Array, batch: int, steps: int):
    """Uniform random actions for `steps` steps on `batch` levels, recording, at every step, the
    world's own step outputs beside what its tabular view and its hooks say should happen."""
    level_key, reset_key, run_key = jax.random.split(key, 3)
    levels = world.sample_levels(level_key, shift, batch)
    first = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, batch), levels)
    rows = jnp.arange(batch)
    last = world.num_tabular_states - 1

    def observe_index(level, index):
        inner = jax.tree.map(lambda leaf: leaf[jnp.minimum(index, last)], world.enumerate_inner(level))
        return world.observe(level, inner)

    def start_index(state):
        return world.inner_index(state.level, world.start(state.level))

    def one_step(timestep, step_key):
        action_key, world_key = jax.random.split(step_key)
        state = timestep.state
        actions = jax.random.randint(action_key, (batch,), 0, world.num_actions)
        view = jax.vmap(lambda level: planning.tabulate(world, level))(state.level)
        index = jax.vmap(world.state_index)(state)
        nxt = jax.vmap(world.step, in_axes=(0, 0, 0, None))(jax.random.split(world_key, batch), state, actions, shift)
        table_next = view.next_index[rows, index, actions]
        stepped_inner = jax.vmap(world.transition)(state.level, state.inner, actions)[0]
        same_level = jax.vmap(_same_tree)(state.level, nxt.state.level)
        record = {
            "index": index,
            "actions": actions,
            "time": state.time,
            "reachable": view.reachable[rows, index],
            "table_next": table_next,
            "table_rewards": view.rewards[rows, index, actions],
            "table_obs": jax.vmap(observe_index)(state.level, table_next),
            "stepped_obs": jax.vmap(world.observe)(state.level, stepped_inner),
            "next_obs_of_state": jax.vmap(world.observe)(nxt.state.level, nxt.state.inner),
            "next_index": jax.vmap(world.state_index)(nxt.state),
            "next_start_index": jax.vmap(start_index)(nxt.state),
            "next_time": nxt.state.time,
            "same_level": same_level,
            "obs": nxt.obs,
            "final_obs": nxt.final_obs,
            "rewards": nxt.objective_rewards,
            "terminated": nxt.terminated,
            "truncated": nxt.truncated,
            "episode_length": nxt.info["episode_length"],
        }
        return nxt, record

    final, records = jax.lax.scan(one_step, first, jax.random.split(run_key, steps))
    return first, final, records


@functools.cache
def _rollout_fn(world: worlds.World):
    return jax.jit(functools.partial(_random_rollout, world, batch=BATCH, steps=3 * world.max_steps))


@functools.cache
def _rollout(world: worlds.World, which: str) -> dict[str, np.ndarray]:
    """The recorded random rollout of `world` on distribution `which`, as NumPy arrays."""
    shift = world.distributions[which].shift
    _, _, records = _rollout_fn(world)(jax.random.key(7), jnp.float32(shift))
    return jax.device_get(records)


DISTRIBUTIONS = ("train", "test")


# ------------------------------------------------------------------------ (a) compile once
def test_declarations_agree(world):
    """Channels, observation shape, rewards per objective and the causal graph agree (the same
    check `validate` runs before any training)."""
    assert world.check_declarations() is None  # raises, naming the declaration, when they do not


def test_step_compiles_once(world):
    traces = []

    def counted_step(key, state, action, shift):
        traces.append(1)  # runs only while tracing
        return world.step(key, state, action, shift)

    step = jax.jit(counted_step)
    reset = jax.jit(world.reset)
    keys = jax.random.split(jax.random.key(0), 16)
    train_shift, test_shift = _shifts(world)
    low, high = world.shift_range
    state_sources = []
    for i, shift in enumerate((train_shift, test_shift, low, high, (low + high) / 2)):
        level = _jit(world, "sample_level")(keys[i], jnp.float32(shift))
        state_sources.append(reset(keys[i + 5], level)[1])  # jitted reset
    state_sources.append(world.reset(keys[15], level)[1])  # eager reset
    timestep = step(keys[10], state_sources[0], jnp.int32(0), train_shift)
    for i, state in enumerate(state_sources):
        for j, shift in enumerate((train_shift, test_shift, float(high))):
            action = jnp.int32((i + j) % world.num_actions)
            step(keys[(i + j) % 16], state, action, shift)
            timestep = step(keys[(i * 3 + j) % 16], timestep.state, action, shift)  # a state made by step
    assert len(traces) == 1, f"step was traced {len(traces)} times"
    if hasattr(step, "_cache_size"):  # private in jax; the trace counter above is the contract
        assert step._cache_size() == 1


def test_sample_level_compiles_once(world):
    traces = []

    def counted(key, shift):
        traces.append(1)
        return world.sample_level(key, shift)

    sample = jax.jit(counted)
    low, high = world.shift_range
    for i, shift in enumerate((low, high, *_shifts(world), (low + high) / 3)):
        sample(jax.random.key(i), shift)
    assert len(traces) == 1


# ------------------------------------------------------------------------------- (b) vmap
def test_step_vmaps_over_keys(world):
    shift = _shifts(world)[1]
    state = _start(world, 1, shift)
    keys = jax.random.split(jax.random.key(3), 4)
    batched = jax.jit(jax.vmap(world.step, in_axes=(0, None, None, None)))(keys, state, jnp.int32(1), shift)
    single = _jit(world, "step")
    for i in range(4):
        assert _trees_equal(_take(batched, i), single(keys[i], state, jnp.int32(1), shift))


def test_step_vmaps_over_levels_and_shifts(world):
    count = 6
    low, high = world.shift_range
    shifts = jnp.linspace(low, high, count, dtype=jnp.float32)
    level_keys = jax.random.split(jax.random.key(4), count)
    levels = jax.jit(jax.vmap(world.sample_level))(level_keys, shifts)
    distinct = {tuple(np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(_take(levels, i))) for i in range(count)}
    assert len(distinct) > 1, "different draws should give different levels"
    for i in range(count):  # batched sampling equals one-at-a-time sampling
        assert _trees_equal(_take(levels, i), _jit(world, "sample_level")(level_keys[i], shifts[i]))

    first = jax.vmap(world.initial_timestep)(level_keys, levels)
    actions = jnp.arange(count, dtype=jnp.int32) % world.num_actions
    step_keys = jax.random.split(jax.random.key(5), count)
    batched_step = jax.jit(jax.vmap(world.step))
    single_step = _jit(world, "step")
    batched = batched_step(step_keys, first.state, actions, shifts)
    for i in range(count):
        expected = single_step(step_keys[i], _take(first.state, i), actions[i], shifts[i])
        assert _trees_equal(_take(batched, i), expected)


# ------------------------------------------------------------------------ (c) determinism
def test_same_key_same_rollout_different_key_different(world):
    run = _rollout_fn(world)
    shift = jnp.float32(_shifts(world)[1])
    first = jax.device_get(run(jax.random.key(11), shift))
    second = jax.device_get(run(jax.random.key(11), shift))
    other = jax.device_get(run(jax.random.key(12), shift))
    leaves_a, leaves_b = jax.tree.leaves(first), jax.tree.leaves(second)
    assert len(leaves_a) == len(leaves_b)
    for a, b in zip(leaves_a, leaves_b):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[2]["actions"], other[2]["actions"])
    assert not np.array_equal(first[2]["index"], other[2]["index"])


# ------------------------------------------------------------------ (d) termination, truncation
@pytest.mark.parametrize("which", DISTRIBUTIONS)
def test_terminated_and_truncated_never_both(world, which):
    record = _rollout(world, which)
    assert not np.any(record["terminated"] & record["truncated"])
    done = record["terminated"] | record["truncated"]
    assert done.any(), "3 * max_steps random steps should end at least one episode"
    # the clock: episode_length counts steps since the episode began, and truncation happens
    # exactly when it reaches max_steps
    np.testing.assert_array_equal(record["episode_length"], record["time"] + 1)
    np.testing.assert_array_equal(record["truncated"], (record["episode_length"] >= world.max_steps) & ~record["terminated"])
    assert record["episode_length"].max() <= world.max_steps


def _never_terminating_rollout(world: worlds.World, key: jax.Array, shift: jax.Array, batch: int, steps: int):
    """Follow, on every level, an action that does not terminate (staying put when possible)."""
    level_key, reset_key, run_key = jax.random.split(key, 3)
    levels = world.sample_levels(level_key, shift, batch)
    first = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, batch), levels)
    absorbing = world.num_tabular_states

    def policy(state):
        view = planning.tabulate(world, state.level)
        index = world.state_index(state)
        successors = view.next_index[index]
        continuing = successors != absorbing
        staying = continuing & (successors == index)
        action = jnp.where(staying.any(), jnp.argmax(staying), jnp.argmax(continuing))
        return action.astype(jnp.int32), continuing.any()

    def one_step(timestep, step_key):
        actions, possible = jax.vmap(policy)(timestep.state)
        nxt = jax.vmap(world.step, in_axes=(0, 0, 0, None))(jax.random.split(step_key, batch), timestep.state, actions, shift)
        return nxt, (possible, nxt.terminated, nxt.truncated, nxt.info["episode_length"], nxt.objective_rewards)

    return jax.lax.scan(one_step, first, jax.random.split(run_key, steps))[1]


@functools.cache
def _never_terminating_fn(world: worlds.World):
    return jax.jit(functools.partial(_never_terminating_rollout, world, batch=4, steps=2 * world.max_steps + 1))


@pytest.mark.parametrize("which", DISTRIBUTIONS)
def test_truncation_exactly_at_max_steps(world, which):
    steps = 2 * world.max_steps + 1
    run = _never_terminating_fn(world)
    possible, terminated, truncated, length, _ = jax.device_get(run(jax.random.key(3), jnp.float32(world.distributions[which].shift)))
    assert possible.all(), "every state should have at least one action that does not end the episode"
    assert not terminated.any()
    t = np.arange(steps)[:, None]
    expected_truncated = np.broadcast_to((t + 1) % world.max_steps == 0, truncated.shape)
    np.testing.assert_array_equal(truncated, expected_truncated)
    np.testing.assert_array_equal(length, np.broadcast_to(t % world.max_steps + 1, length.shape))
    assert np.all(length[truncated] == world.max_steps)


def _steps_to_end(view: planning.TabularView, horizon: int) -> jax.Array:
    """Fewest steps from each state to the absorbing end state (`horizon + 1` if none within it)."""
    absorbing = view.num_states - 1
    far = jnp.full((view.num_states,), horizon + 1, jnp.int32).at[absorbing].set(0)

    def relax(_, dist):
        best = 1 + dist[view.next_index].min(-1)
        return jnp.minimum(dist, best).at[absorbing].set(0)

    return jax.lax.fori_loop(0, horizon + 1, relax, far)


def _late_termination_rollout(world: worlds.World, key: jax.Array, shift: jax.Array, batch: int):
    """Dawdle without ending the episode, then end it by termination on exactly step max_steps."""
    level_key, reset_key, run_key = jax.random.split(key, 3)
    levels = world.sample_levels(level_key, shift, batch)
    first = jax.vmap(world.initial_timestep)(jax.random.split(reset_key, batch), levels)
    absorbing = world.num_tabular_states
    views = jax.vmap(lambda level: planning.tabulate(world, level))(levels)
    dists = jax.vmap(lambda view: _steps_to_end(view, world.max_steps))(views)

    def policy(view, dist, state):
        index = world.state_index(state)
        successors = view.next_index[index]
        after = dist[successors]
        remaining = world.max_steps - state.time
        waiting = (successors != absorbing) & (after <= remaining - 1)
        staying = waiting & (successors == index)
        wait = jnp.where(staying.any(), jnp.argmax(staying), jnp.argmax(waiting))
        hurry = jnp.argmin(after)
        return jnp.where((dist[index] >= remaining) | ~waiting.any(), hurry, wait).astype(jnp.int32)

    def one_step(timestep, step_key):
        actions = jax.vmap(policy)(views, dists, timestep.state)
        nxt = jax.vmap(world.step, in_axes=(0, 0, 0, None))(jax.random.split(step_key, batch), timestep.state, actions, shift)
        return nxt, (nxt.terminated, nxt.truncated, nxt.info["episode_length"])

    records = jax.lax.scan(one_step, first, jax.random.split(run_key, world.max_steps))[1]
    return dists[jnp.arange(batch), views.start], records


def test_termination_on_the_last_step_is_not_truncation(world):
    """An episode that terminates exactly on step max_steps is terminated, not truncated."""
    run = jax.jit(functools.partial(_late_termination_rollout, world, batch=8))
    start_dist, (terminated, truncated, length) = jax.device_get(run(jax.random.key(5), jnp.float32(_shifts(world)[1])))
    feasible = start_dist <= world.max_steps
    assert feasible.any(), "no sampled level can be ended within max_steps"
    last = world.max_steps - 1
    assert not terminated[:last, feasible].any(), "the dawdling policy should not end the episode early"
    assert terminated[last, feasible].all(), "the policy should end every feasible episode on the last step"
    assert not truncated[last, feasible].any(), "terminated on the last step must not also be truncated"
    assert np.all(length[last] == world.max_steps)
    assert not np.any(terminated & truncated)


# ---------------------------------------------------------------- (e) final observation
@pytest.mark.parametrize("which", DISTRIBUTIONS)
def test_final_observation_kept_on_auto_reset(world, which):
    record = _rollout(world, which)
    done = record["terminated"] | record["truncated"]
    assert done.any()
    # final_obs is always the observation of the stepped, pre-reset state
    np.testing.assert_array_equal(record["final_obs"], record["stepped_obs"])
    # obs is always the observation of the state the agent acts in next
    np.testing.assert_array_equal(record["obs"], record["next_obs_of_state"])
    # not done: nothing was reset
    np.testing.assert_array_equal(record["obs"][~done], record["final_obs"][~done])
    assert record["same_level"][~done].all()
    np.testing.assert_array_equal(record["next_time"][~done], record["time"][~done] + 1)
    # done: a fresh episode at its start, clock at zero
    assert np.all(record["next_time"][done] == 0)
    np.testing.assert_array_equal(record["next_index"][done], record["next_start_index"][done])


def test_step_in_episode_matches_step_until_the_end(world):
    """Evaluation rollouts use `step_in_episode` (no level drawn at the end); up to an episode's
    end it must play exactly as `step`, and at the end it restarts the same level."""
    ended = []
    for seed in range(BATCH):
        state = _start(world, seed, _shifts(world)[1])
        for t in range(world.max_steps):
            action = jnp.int32((seed + 3 * t) % world.num_actions)
            stepped = _jit(world, "step")(jax.random.key(100 + t), state, action, jnp.float32(0.0))
            in_episode = _jit(world, "step_in_episode")(state, action)
            for field in ("objective_rewards", "terminated", "truncated", "final_obs"):
                np.testing.assert_array_equal(np.asarray(getattr(in_episode, field)), np.asarray(getattr(stepped, field)), err_msg=field)
            if bool(stepped.done):
                restart = _jit(world, "reset")(jax.random.key(0), state.level)
                assert _trees_equal(in_episode.state.level, state.level)
                np.testing.assert_array_equal(np.asarray(in_episode.obs), np.asarray(restart[0]))
                ended.append(t)
                break
            assert _trees_equal(in_episode.state, stepped.state)
            np.testing.assert_array_equal(np.asarray(in_episode.obs), np.asarray(stepped.obs))
            state = stepped.state
    assert len(ended) == BATCH  # every episode reached its end (at the latest by truncation)


# ------------------------------------------------------------ (f) structure of info/rewards
def test_timestep_structure_identical_at_reset_and_step(world):
    level = _jit(world, "sample_level")(jax.random.key(0), jnp.float32(_shifts(world)[0]))
    initial = jax.jit(world.initial_timestep)(jax.random.key(1), level)
    step = _jit(world, "step")
    stepped = step(jax.random.key(2), initial.state, jnp.int32(0), _shifts(world)[0])
    again = step(jax.random.key(3), stepped.state, jnp.int32(1), _shifts(world)[1])
    for timestep in (stepped, again):
        assert _signature(timestep.info) == _signature(initial.info)
        assert _signature(timestep.objective_rewards) == _signature(initial.objective_rewards)
        assert _signature(timestep) == _signature(initial)
    assert initial.objective_rewards.shape == (world.num_objectives,)
    assert "episode_length" in initial.info
    assert not bool(initial.terminated) and not bool(initial.truncated)
    np.testing.assert_array_equal(initial.objective_rewards, np.zeros(world.num_objectives))
    np.testing.assert_array_equal(initial.obs, initial.final_obs)


@pytest.mark.parametrize("which", DISTRIBUTIONS)
def test_objective_rewards_shape_every_step(world, which):
    record = _rollout(world, which)
    steps = 3 * world.max_steps
    assert record["rewards"].shape == (steps, BATCH, world.num_objectives)
    assert record["rewards"].dtype == np.float32
    assert np.all(np.isfinite(record["rewards"]))


# ------------------------------------------------------------------- (g) observation space
@pytest.mark.parametrize("which", DISTRIBUTIONS)
def test_observations_inside_declared_space(world, which):
    record = _rollout(world, which)
    for key in ("obs", "final_obs"):
        obs = record[key]
        assert obs.dtype == np.uint8
        assert obs.shape[2:] == tuple(world.observation_shape)
        assert set(np.unique(obs)) <= {0, 1}
    level = _jit(world, "sample_level")(jax.random.key(0), jnp.float32(0.0))
    obs, _ = _jit(world, "reset")(jax.random.key(0), level)
    assert obs.dtype == jnp.uint8 and obs.shape == tuple(world.observation_shape)


# ------------------------------------------------------------ (h) only reachable states
@pytest.mark.parametrize("which", DISTRIBUTIONS)
def test_agent_only_visits_reachable_states(world, which):
    """Walls and other impossible configurations are exactly the unreachable tabular states."""
    record = _rollout(world, which)
    assert record["reachable"].all(), "the agent acted in a state the tabular view calls unreachable"
    assert np.all((record["index"] >= 0) & (record["index"] < world.num_tabular_states))


def test_tabular_indices_round_trip(world):
    """inner_index inverts enumerate_inner, and the view's start is the reset state's index."""
    levels = world.sample_levels(jax.random.key(9), _shifts(world)[1], 3)

    def check(level):
        inners = world.enumerate_inner(level)
        indices = jax.vmap(lambda inner: world.inner_index(level, inner))(inners)
        view = planning.tabulate(world, level)
        _, state = world.reset(jax.random.key(0), level)
        return indices, view.start, world.state_index(state), view.reachable, view.next_index

    indices, start, reset_index, reachable, next_index = jax.device_get(jax.jit(jax.vmap(check))(levels))
    np.testing.assert_array_equal(indices, np.broadcast_to(np.arange(world.num_tabular_states), indices.shape))
    np.testing.assert_array_equal(start, reset_index)
    assert reachable[np.arange(3), start].all()
    absorbing = world.num_tabular_states
    assert np.all(next_index[:, absorbing] == absorbing)
    assert np.all((next_index >= 0) & (next_index <= absorbing))


# ------------------------------------------------------ (i) tabular view agrees with step
@pytest.mark.parametrize("which", DISTRIBUTIONS)
def test_tabular_view_agrees_with_step(world, which):
    record = _rollout(world, which)
    absorbing = world.num_tabular_states
    terminated, truncated = record["terminated"], record["truncated"]
    done = terminated | truncated
    # termination <=> the table sends the pair to the absorbing state
    np.testing.assert_array_equal(record["table_next"] == absorbing, terminated)
    # not done: the next state is exactly the table's successor
    np.testing.assert_array_equal(record["next_index"][~done], record["table_next"][~done])
    # truncated: the pre-reset state (seen through final_obs) is the table's successor
    np.testing.assert_array_equal(record["final_obs"][~terminated], record["table_obs"][~terminated])
    # rewards under every objective, at every step
    np.testing.assert_array_equal(record["rewards"], record["table_rewards"])


# -------------------------------------------------------------------------- (j) metadata
def test_world_metadata(world):
    assert world.objectives, "a world needs at least the intended objective"
    assert len(set(world.objectives)) == len(world.objectives)
    assert world.intended == world.objectives[0]
    assert world.proxies == world.objectives[1:]
    assert world.num_objectives == len(world.objectives)
    assert world.num_actions == len(world.action_names) > 0
    graph = world.causal_graph()
    assert nx.is_directed_acyclic_graph(graph)
    for name in world.objectives:
        assert name in graph.nodes and graph.nodes[name]["objective"]
    for edge in world.causal_edges:
        assert graph.has_edge(*edge)
    text = world.describe()
    for name in (*world.objectives, *world.action_names):
        assert name in text, f"the docstring of {world.name!r} should mention {name!r}"
    assert world.summary.strip()
    low, high = world.shift_range
    assert low <= high
    for which in DISTRIBUTIONS:
        assert which in world.distributions
    for distribution in world.distributions.values():
        assert low <= distribution.shift <= high, distribution
    assert world.max_steps > 0
    assert world.name in worlds.names()


def test_registry_rejects_unknown_names_and_options(world):
    with pytest.raises(ValueError, match="no_such_option"):
        worlds.make(world.name, no_such_option=1)
    with pytest.raises(ValueError, match="unknown world"):
        worlds.make(world.name + "_no_such_world")
    options = worlds.options(world.name)
    assert all(value is not inspect.Parameter.empty for value in options.values()), "every option needs a default"


# ---------------------------------------------------------------------------- (k) render
def test_render_returns_rgb_uint8(world):
    state = _start(world, 0, _shifts(world)[1])
    render = _jit(world, "render_state")
    image = render(state)
    assert image.dtype == jnp.uint8
    assert image.ndim == 3 and image.shape[-1] == 3 and image.shape[0] > 0 and image.shape[1] > 0
    moved = _jit(world, "step")(jax.random.key(1), state, jnp.int32(1), 0.0).state
    assert render(moved).shape == image.shape


# ---------------------------------------------------------------- (l) observation channels
CHANNEL_LEVELS = 6  # levels per distribution searched for a lit channel


@functools.cache
def _views(world: worlds.World) -> tuple[worlds.World, ...]:
    """A registered world rebuilt in each of its views; any other world (or one without a
    `view` option) as it is."""
    if world.name in worlds.names() and "view" in worlds.options(world.name):
        return tuple(worlds.make(world.name, view=view) for view in grid.VIEWS)
    return (world,)


@functools.cache
def _channel_use(world: worlds.World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C,) whether each channel is lit somewhere, (C,) whether it is lit on the whole plane, and
    (C,) the most cells it lights at once, in the reachable states of levels drawn from train
    and test."""

    def per_level(level):
        observations = jax.vmap(lambda inner: world.observe(level, inner))(world.enumerate_inner(level))
        reachable = planning.tabulate(world, level).reachable[:-1, None]
        lit = jnp.any(observations > 0, axis=(1, 2)) & reachable
        full = jnp.all(observations > 0, axis=(1, 2)) & reachable
        cells = jnp.where(reachable, (observations > 0).sum((1, 2)), 0)
        return lit.any(0), full.any(0), cells.max(0)

    keys = jax.random.split(jax.random.key(21), 2)
    levels = [world.sample_levels(k, world.distributions[d].shift, CHANNEL_LEVELS) for k, d in zip(keys, DISTRIBUTIONS)]
    levels = jax.tree.map(lambda *leaves: jnp.concatenate(leaves), *levels)
    lit, full, cells = jax.device_get(jax.jit(jax.vmap(per_level))(levels))
    return lit.any(0), full.any(0), cells.max(0)


def test_observation_channels_are_named(world):
    for built in _views(world):
        names = built.observation_channels
        where = f"{built.name} ({getattr(built, 'view', 'default view')})"
        assert len(names) == built.observation_shape[-1], where
        assert len(set(names)) == len(names), f"{where}: repeated channel names {names}"
        assert built.object_channels, f"{where}: no object channel to probe"
        level = built.sample_level(jax.random.key(0), jnp.float32(built.distributions["test"].shift))
        inner = built.start(level)
        obs = np.asarray(built.observe(level, inner))
        assert obs[..., names.index("wall")].any(), where
        if "agent" in names:  # a global view: the agent channel marks exactly the agent's cell
            plane = obs[..., names.index("agent")]
            assert plane.sum() == 1 and plane[agent_cell(inner)] == 1, where


def test_object_channels_show_something_real(world):
    """Every object channel is lit in some reachable state (on train or test levels), and none
    is a non-spatial plane lit everywhere (those belong in `non_object_channels`)."""
    for built in _views(world):
        lit, full, _ = _channel_use(built)
        names = built.observation_channels
        for c in built.object_channels:
            assert lit[c], f"{built.name}: object channel {names[c]!r} is never lit on train or test levels"
            assert not full[c], f"{built.name}: object channel {names[c]!r} fills the whole plane; list it in non_object_channels"


def test_one_hot_channels_light_at_most_one_cell(world):
    """The channels a world declares one-hot (which networks read by a row lookup) light at most
    one cell in every reachable state of train and test levels, in every view."""
    for built in _views(world):
        _, _, cells = _channel_use(built)
        names = built.observation_channels
        for c in built.one_hot_channels:
            assert cells[c] <= 1, f"{built.name}: channel {names[c]!r} is declared one-hot but lights {cells[c]} cells"
    coin = worlds.make("coin")
    assert worlds.make("coin", view="global").one_hot_channels == (1, 2, 3) and coin.one_hot_channels == (1, 2)


def test_lit_cells_draw_the_same_bytes_as_maps(world):
    """Where a grid world draws its observation by scattering lit cells (`observe_lit_cells`),
    drawing every channel as a map (`observe_maps`) gives the same bytes, for every candidate
    inner state (unreachable ones included) of train and test levels, in every view."""
    for built in _views(world):
        if not isinstance(built, GridWorld):
            continue
        level = jax.eval_shape(built.sample_level, jax.random.key(0), jnp.float32(0.0))
        if not built.lights_cells(jax.eval_shape(built.objects, level, jax.eval_shape(built.start, level))):
            continue
        keys = jax.random.split(jax.random.key(23), 2)
        for key, which in zip(keys, DISTRIBUTIONS):
            levels = built.sample_levels(key, built.distributions[which].shift, 4)

            def both(level, inner, built=built):
                entries = built.objects(level, inner)
                return built.observe_lit_cells(level, inner, entries), built.observe_maps(level, inner, entries)

            lit, maps = jax.jit(jax.vmap(lambda level: jax.vmap(lambda inner: both(level, inner))(built.enumerate_inner(level))))(levels)
            np.testing.assert_array_equal(np.asarray(lit), np.asarray(maps), err_msg=f"{built.name} ({built.view}, {which})")


@pytest.mark.parametrize(("name", "view", "lit"), [("coin", "egocentric", True), ("corner", "egocentric", False), ("corner", "global", True)])
def test_lit_cells_drawn_from_two_lit_channels_on(name, view, lit):
    """The scatter draws coin's two objects, and corner's cheese only beside the global view's
    agent: a single lit channel stays a map."""
    built = worlds.make(name, view=view)
    state = _start(built, 0, 0.0)
    assert built.lights_cells(built.objects(state.level, state.inner)) is lit


def test_with_agent_at_moves_only_the_agent(world):
    level = _jit(world, "sample_level")(jax.random.key(3), jnp.float32(_shifts(world)[1]))
    start = world.start(level)
    floor = np.asarray(world.floor_mask(level))
    assert floor.shape == tuple(level.walls.shape) and floor[agent_cell(start)]
    assert _trees_equal(world.with_agent_at(start, jnp.asarray(agent_cell(start))), start)
    cells = np.argwhere(floor).astype(np.int32)
    moved = jax.jit(jax.vmap(world.with_agent_at, in_axes=(None, 0)))(start, jnp.asarray(cells))
    back = jax.vmap(world.with_agent_at, in_axes=(0, None))(moved, jnp.asarray(agent_cell(start)))
    for i, cell in enumerate(cells):
        assert agent_cell(_take(moved, i)) == tuple(cell)
        assert _trees_equal(_take(back, i), start)  # nothing but the agent's cell changed
