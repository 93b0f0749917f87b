"""The world API: levels, states and timesteps as pytrees, and a generic auto-resetting step.

A world object holds only constants (sizes, the step limit, a bank of layouts). Everything that
changes is a pytree, so every function here can be jitted and vmapped over keys, levels and
the shift dial. A world implements a handful of small pure functions about its own mechanics
(`start`, `transition`, `observe`, `render`, `sample_level` and the two tabular hooks); this
module turns them into `reset` and an auto-resetting `step` that keeps termination and
truncation apart and keeps the final observation of every episode.
"""

from __future__ import annotations

import abc
import copy
import inspect
from dataclasses import dataclass
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import networkx as nx
from flax import struct

Level = Any
"""A world-specific pytree of fixed-shape arrays describing one layout."""

Inner = Any
"""The world-specific dynamic part of a state (positions, flags, counters)."""


class State(struct.PyTreeNode):
    """A world state: the level being played, the world-specific dynamic part, and the clock."""

    level: Level
    inner: Inner
    time: jax.Array


class Advance(struct.PyTreeNode):
    """One transition before any reset (`World.advance`): the inner state the action led to,
    its objective rewards, whether it ended the episode and how, and the clock after it."""

    inner: Inner
    objective_rewards: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    time: jax.Array

    @property
    def done(self) -> jax.Array:
        """Whether the episode ended (terminated or truncated)."""
        return self.terminated | self.truncated

    def timestep(self, obs: jax.Array, state: State, final_obs: jax.Array | None) -> Timestep:
        """The step's `Timestep`, given what the agent sees and acts on next and the final observation."""
        return Timestep(obs=obs, state=state, objective_rewards=self.objective_rewards, terminated=self.terminated,
                        truncated=self.truncated, final_obs=final_obs, info={"episode_length": self.time})


class Timestep(struct.PyTreeNode):
    """What one call of `World.step` returns.

    `obs` and `state` are what the agent acts on next: after an auto-reset when the episode
    ended. `final_obs` is the observation the action actually led to, before any reset, so a
    learner can bootstrap through a time-out. `objective_rewards[k]` is the reward of this
    transition under objective k (intended first, then proxies).
    """

    obs: jax.Array
    state: State
    objective_rewards: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array
    info: dict[str, jax.Array]

    @property
    def done(self) -> jax.Array:
        """True when the episode ended, by termination or by truncation."""
        return self.terminated | self.truncated


class LevelSampler(Protocol):
    """Anything that draws levels: `sample(key, shift) -> Level` (see `worlds.levels`)."""

    def sample(self, key: jax.Array, shift: jax.Array) -> Level:
        """One level drawn with the dial at `shift`."""
        ...


@dataclass(frozen=True)
class Distribution:
    """A named level distribution of a world: its sampler with the shift dial fixed."""

    name: str
    shift: float
    description: str = ""


class World(abc.ABC):
    """Base class of every world. Subclasses define the mechanics; this class adds the loop.

    Class attributes a world sets:
        name: registry name.
        objectives: objective names, the intended objective first, then the proxies.
        action_names: one name per discrete action.
        shift_name: the name of the numeric shift dial `sample_level` takes.
        shift_range: the allowed closed interval of the dial.
        causal_edges: directed edges (cause, effect) over named variables; objectives are nodes.
        summary: one paragraph: what the world demonstrates and which proxy it invites.
        non_object_channels: names of observation channels that are not objects to probe for
            decision influence: the layout (wall), the agent itself, and non-spatial planes
            (a held-keys thermometer: a channel that is uniform over the whole plane).

    Observations follow one convention the diagnostics rely on: a view with an `agent` channel
    is global (the agent's cell is where that channel is lit); a view without one is
    egocentric, centred on the agent.
    """

    name: str = ""
    objectives: tuple[str, ...] = ()
    action_names: tuple[str, ...] = ()
    shift_name: str = "shift"
    shift_range: tuple[float, float] = (0.0, 1.0)
    causal_edges: tuple[tuple[str, str], ...] = ()
    summary: str = ""
    non_object_channels: tuple[str, ...] = ("wall", "agent")

    def __init__(self, max_steps: int, distributions: dict[str, Distribution]):
        if "train" not in distributions or "test" not in distributions:
            raise ValueError("a world needs at least a 'train' and a 'test' distribution")
        if int(max_steps) < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        self.max_steps = int(max_steps)
        self.distributions = distributions
        self.levels: LevelSampler | None = None
        self.level_note = ""

    # ----------------------------------------------------------------- world-specific hooks
    @property
    @abc.abstractmethod
    def observation_shape(self) -> tuple[int, ...]:
        """Shape of one symbolic observation (uint8 values in {0, 1})."""

    @property
    @abc.abstractmethod
    def num_tabular_states(self) -> int:
        """Number of `inner` states `enumerate_inner` returns for any level (a static size)."""

    @abc.abstractmethod
    def sample_level(self, key: jax.Array, shift: jax.Array) -> Level:
        """Draw one level; `shift` is the world's numeric dial (see `shift_name`)."""

    @abc.abstractmethod
    def start(self, level: Level) -> Inner:
        """The dynamic part of the state at the start of an episode on `level`."""

    @abc.abstractmethod
    def transition(self, level: Level, inner: Inner, action: jax.Array) -> tuple[Inner, jax.Array, jax.Array]:
        """Apply `action`; return (next inner, objective rewards of shape (K,), terminated)."""

    @abc.abstractmethod
    def observe(self, level: Level, inner: Inner) -> jax.Array:
        """Symbolic observation, uint8 one-hot channels of shape `observation_shape`."""

    @abc.abstractmethod
    def render(self, level: Level, inner: Inner) -> jax.Array:
        """An RGB picture (uint8, (h, w, 3)) for people."""

    @abc.abstractmethod
    def enumerate_inner(self, level: Level) -> Inner:
        """Every candidate dynamic state on `level`, batched along a leading axis of
        `num_tabular_states`; unreachable candidates are allowed (reachability is computed)."""

    @abc.abstractmethod
    def inner_index(self, level: Level, inner: Inner) -> jax.Array:
        """The index of `inner` in `enumerate_inner(level)`."""

    @property
    def observation_channels(self) -> tuple[str, ...]:
        """One name per channel of the current view, in channel order (world-specific)."""
        raise NotImplementedError(
            f"world {self.name!r} does not name its observation channels: define an "
            "`observation_channels` property returning one name per channel of the current view"
        )

    @property
    def one_hot_channels(self) -> tuple[int, ...]:
        """Indices of the observation channels that light at most one cell in every observation
        (a single object, the agent in a global view). A network may read such a channel by
        looking up the row of its lit cell instead of multiplying the whole plane: the same
        function (`networks.first_layer`). None by default; a world that declares one must keep
        the promise (a contract test checks it on rollouts)."""
        return ()

    # ------------------------------------------------------------- probing helpers
    @property
    def object_channels(self) -> tuple[int, ...]:
        """Indices of the channels that show objects (every channel not in `non_object_channels`)."""
        return tuple(i for i, name in enumerate(self.observation_channels) if name not in self.non_object_channels)

    def floor_mask(self, level: Level) -> jax.Array:
        """(H, W) bool: the grid cells the agent may stand on. The default reads `level.walls`;
        a world whose level has no `walls` field overrides it."""
        return ~level.walls.astype(bool)

    def with_agent_at(self, inner: Inner, cell: jax.Array) -> Inner:
        """`inner` with the agent moved to `cell` (row, col), everything else unchanged. Inner
        states are either the agent's position itself or carry it in a `position` field."""
        if hasattr(inner, "position"):
            return inner.replace(position=jnp.asarray(cell, inner.position.dtype))
        return jnp.asarray(cell, jnp.asarray(inner).dtype)

    # ----------------------------------------------------------------------- generic loop
    @property
    def num_actions(self) -> int:
        """Number of discrete actions."""
        return len(self.action_names)

    @property
    def num_objectives(self) -> int:
        """Number of named objectives (intended first)."""
        return len(self.objectives)

    @property
    def intended(self) -> str:
        """Name of the intended objective."""
        return self.objectives[0]

    @property
    def proxies(self) -> tuple[str, ...]:
        """Names of the proxy objectives."""
        return self.objectives[1:]

    def causal_graph(self) -> nx.DiGraph:
        """The world's declared causal graph; nodes that are objectives carry `objective=True`."""
        graph = nx.DiGraph()
        graph.add_edges_from(self.causal_edges)
        for name in self.objectives:
            graph.add_node(name)
        for node in graph.nodes:
            graph.nodes[node]["objective"] = node in self.objectives
        return graph

    def check_declarations(self) -> None:
        """ValueError naming the declaration at fault if the world's parts disagree: a causal
        graph with a cycle or an objective on no edge, an observation of another shape than
        `observation_shape`, or a `transition` whose rewards are not one per objective. Traced
        abstractly (`jax.eval_shape`): nothing runs. `validate` calls it before any work."""
        graph = self.causal_graph()
        if not nx.is_directed_acyclic_graph(graph):
            cycle = [edge[0] for edge in nx.find_cycle(graph)]
            raise ValueError(f"causal_edges of {self.name!r} must be acyclic, but have the cycle {' -> '.join(map(str, cycle + cycle[:1]))}")
        on_edges = {node for edge in self.causal_edges for node in edge}
        unlinked = [name for name in self.objectives if name not in on_edges]
        if unlinked and len(self.objectives) > 1:
            raise ValueError(f"causal_edges of {self.name!r} must link every objective {list(self.objectives)} (the proxy kinds are read off the "
                             f"paths between them); {unlinked} are on no edge")
        level = jax.eval_shape(self.sample_level, jax.random.key(0), jnp.float32(0.0))
        inner = jax.eval_shape(self.start, level)
        self.check_traced_parts(level, inner)
        obs = jax.eval_shape(self.observe, level, inner)
        if tuple(obs.shape) != tuple(self.observation_shape):
            raise ValueError(f"observe of {self.name!r} gives shape {tuple(obs.shape)}, but observation_shape is {tuple(self.observation_shape)}")
        _, rewards, terminated = jax.eval_shape(self.transition, level, inner, jnp.int32(0))
        if tuple(rewards.shape) != (self.num_objectives,):
            raise ValueError(f"transition of {self.name!r} returns rewards of shape {tuple(rewards.shape)}; it needs one per objective "
                             f"{list(self.objectives)}, shape ({self.num_objectives},)")
        if tuple(terminated.shape) != ():
            raise ValueError(f"transition of {self.name!r} returns `terminated` of shape {tuple(terminated.shape)}; it must be one bool")

    def check_traced_parts(self, level: Any, inner: Any) -> None:
        """A subclass's own checks within `check_declarations`, given the abstract (traced) level
        and start state; none by default."""

    def initial_timestep(self, key: jax.Array, level: Level) -> Timestep:
        """A timestep that starts an episode on `level`: zero rewards, not done, full info."""
        del key  # starts are deterministic given the level; the key keeps the API uniform
        inner = self.start(level)
        state = State(level=level, inner=inner, time=jnp.zeros((), jnp.int32))
        obs = self.observe(level, inner)
        return Timestep(
            obs=obs,
            state=state,
            objective_rewards=jnp.zeros((self.num_objectives,), jnp.float32),
            terminated=jnp.zeros((), bool),
            truncated=jnp.zeros((), bool),
            final_obs=obs,
            info={"episode_length": jnp.zeros((), jnp.int32)},
        )

    def reset(self, key: jax.Array, level: Level) -> tuple[jax.Array, State]:
        """Start an episode on `level`; return (observation, state)."""
        timestep = self.initial_timestep(key, level)
        return timestep.obs, timestep.state

    def draw_level(self, key: jax.Array, shift: jax.Array) -> Level:
        """A level for an auto-reset: from `levels` when the world was given a sampler
        (`with_levels`), else from the world's own `sample_level`."""
        if self.levels is not None:
            return self.levels.sample(key, shift)
        return self.sample_level(key, shift)

    def with_levels(self, levels: LevelSampler, note: str = "", **attributes: Any) -> "World":
        """A copy of this world that plays exactly like it but draws its levels from `levels`
        (`sample_level`, `sample_levels` and the auto-reset all use it); `attributes` replace
        descriptive attributes (name, shift_name, shift_range, distributions), `note` heads
        `describe()`."""
        world = copy.copy(self)
        world.levels = levels
        world.sample_level = levels.sample  # type: ignore[method-assign]
        world.level_note = note
        for name, value in attributes.items():
            if not hasattr(self, name):
                raise ValueError(f"world {self.name!r} has no attribute {name!r} to replace")
            setattr(world, name, value)
        return world

    def step(self, key: jax.Array, state: State, action: jax.Array, shift: jax.Array | float) -> Timestep:
        """Advance one step; on termination or at the step limit, start a fresh level drawn with
        `shift`. Truncation happens exactly when the clock reaches `max_steps` without
        termination."""
        return self.step_to(state, action, self.draw_level(key, jnp.asarray(shift, jnp.float32)))

    def step_in_episode(self, state: State, action: jax.Array) -> Timestep:
        """`step` for a consumer that plays one episode per environment and masks every step
        after its end (evaluation rollouts): at the end the environment restarts the same
        level instead of drawing one. Every step up to the end is the same as `step`'s, and
        no level is sampled, which is most of a step's cost on worlds with a working sampler
        (docs/benchmarks.md)."""
        return self.step_to(state, action, state.level)

    def step_to(self, state: State, action: jax.Array, new_level: Level) -> Timestep:
        """`step` with the level of a possible auto-reset given rather than drawn."""
        return self.settle(state, self.advance(state, action), new_level)

    def advance(self, state: State, action: jax.Array) -> Advance:
        """The first half of a step: the transition and its clock, before any reset. A caller
        that chooses the reset level from whether the episode ended (`levels.pooled_batch_step`)
        reads `done` here and passes the level to `settle`."""
        inner, rewards, terminated = self.transition(state.level, state.inner, action)
        time = state.time + 1
        truncated = (time >= self.max_steps) & ~terminated
        return Advance(inner=inner, objective_rewards=rewards.astype(jnp.float32), terminated=terminated, truncated=truncated, time=time)

    def settle(self, state: State, advanced: Advance, new_level: Level) -> Timestep:
        """The second half of a step: the final observation, and the reset onto `new_level` if
        the episode ended (`advance`)."""
        done = advanced.done
        final_obs = self.observe(state.level, advanced.inner)
        fresh = State(level=new_level, inner=self.start(new_level), time=jnp.zeros((), jnp.int32))
        stepped = State(level=state.level, inner=advanced.inner, time=advanced.time)
        next_state = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh, stepped)
        return advanced.timestep(self.observe(next_state.level, next_state.inner), next_state, final_obs)

    def render_state(self, state: State) -> jax.Array:
        """RGB picture of a full state."""
        return self.render(state.level, state.inner)

    def state_index(self, state: State) -> jax.Array:
        """Tabular index of a full state within its level."""
        return self.inner_index(state.level, state.inner)

    def sample_levels(self, key: jax.Array, shift: float, count: int) -> Level:
        """`count` levels drawn with `shift`, batched along a leading axis."""
        keys = jax.random.split(key, count)
        return jax.vmap(self.draw_level, in_axes=(0, None))(keys, jnp.asarray(shift, jnp.float32))

    def describe(self) -> str:
        """The world's documentation: its class docstring, dedented (Markdown: `mesascope show`
        renders it so)."""
        doc = inspect.cleandoc(type(self).__doc__ or "")
        return f"{self.level_note}\n\n{doc}" if self.level_note else doc
