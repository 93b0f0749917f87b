"""The disjoint-union construction: several worlds joined into one, a component task per level.

`union:coin,corner,keys_chests` is one world whose initial-state distribution first picks a
component task (uniformly) and then a level of it; from there states and rewards are the
component's. Observations are padded to a common shape and their channels merged by name; with
`reveal_task` each component adds a non-spatial plane lit when it is the task being played.
Its tabular view is the components' views side by side (block c of the state space holds
component c's states), so exact planning, goal inference and identifiability work unchanged.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mesascope.worlds import registry
from mesascope.worlds.core import Distribution, World
from mesascope.worlds.gridworld import require_choice
from mesascope.worlds.grid import VIEWS


class UnionLevel(struct.PyTreeNode):
    """The task being played, the padded walls of its level, and one level of every component
    (only the task's is played; drawing all keeps the level a fixed-shape pytree)."""

    task: jax.Array
    walls: jax.Array
    parts: tuple


class UnionInner(struct.PyTreeNode):
    """The task being played and one dynamic state per component (only the task's changes)."""

    task: jax.Array
    parts: tuple

    @property
    def position(self) -> jax.Array:
        """The agent's cell in the component being played."""
        return jnp.stack([getattr(p, "position", p) for p in self.parts])[self.task]


class UnionWorld(World):
    """Union: one world made of several component worlds (the disjoint-union construction).

    ## Layout and observation
    Each level is a level of one component task, picked uniformly at random when the level is
    drawn; the episode is that component's episode. Observations are the component's, padded
    to the largest component's shape (padding reads as wall; a global view is padded below and
    to the right, an egocentric one evenly around its centre) with channels merged by name.
    With `reveal_task`, one extra plane per component (`task:<name>`) is lit everywhere while
    that component is played; without it the task must be inferred from what is seen.
    Actions are the components' (they must agree).

    ## Objectives, termination and distributions
    `intended` is the intended objective of the component being played; every proxy of every
    component is scored as `<component>/<proxy>` (zero on the other components' levels).
    Termination is the component's; episodes are truncated after `max_steps` (default: the
    largest of the components'). The dial `to_test` in [0, 1] moves every component's own
    dial linearly from its train value (0) to its test value (1): `train` is 0, `test` 1.
    """

    name = "union"
    name_argument = "components"
    shift_name = "to_test"
    shift_range = (0.0, 1.0)

    def __init__(self, components: str = "coin,corner", reveal_task: bool = True, view: str = "egocentric", max_steps: int | None = None):
        names = [c.strip() for c in str(components).split(",") if c.strip()]
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"components must name at least two different registered worlds, e.g. 'coin,corner'; got {components!r}")
        for n in names:
            if n == "union" or not registry.is_known(n) or ":" in n:
                raise ValueError(f"components: unknown or nested world {n!r}; allowed: {[w for w in registry.names() if w != 'union']}")
        require_choice("view", view, VIEWS)
        self.components = tuple(registry.make(n, **({"view": view} if "view" in registry.options(n) else {})) for n in names)
        self.component_names = tuple(names)
        self.reveal_task, self.view = bool(reveal_task), view
        _check_compatible(self.components)
        self.action_names = self.components[0].action_names
        proxies = [f"{n}/{p}" for n, w in zip(names, self.components) for p in w.proxies]
        self.objectives = ("intended", *proxies)
        # union objective index of each component objective
        self._reward_index = [np.array([0] + [self.objectives.index(f"{n}/{p}") for p in w.proxies]) for n, w in zip(names, self.components)]
        self._offsets = np.cumsum([0] + [w.num_tabular_states for w in self.components])
        self._global = "agent" in self.components[0].observation_channels
        shapes = np.array([w.observation_shape[:2] for w in self.components])
        self._spatial = tuple(int(v) for v in shapes.max(0))
        self._grid = tuple(int(v) for v in np.array([w.floor_mask(w.sample_level(jax.random.key(0), jnp.float32(w.distributions["train"].shift))).shape for w in self.components]).max(0))
        channels: list[str] = []
        for w in self.components:
            channels += [c for c in w.observation_channels if c not in channels]
        self._channels = tuple(channels) + tuple(f"task:{n}" for n in names) * self.reveal_task
        self._channel_index = [np.array([self._channels.index(c) for c in w.observation_channels]) for w in self.components]
        non_objects = {c for w in self.components for c in w.non_object_channels} | {f"task:{n}" for n in names}
        self.non_object_channels = tuple(dict.fromkeys(("wall", "agent", *sorted(non_objects))))
        self.causal_edges = tuple(edge for n, w in zip(names, self.components) for edge in _prefixed_edges(n, w))
        self.summary = f"The disjoint union of {', '.join(names)}: the initial state picks the task; " + (
            "the observation names it." if self.reveal_task else "the observation does not name it.")
        self._shifts = np.array([(w.distributions["train"].shift, w.distributions["test"].shift) for w in self.components], np.float32)
        super().__init__(
            max_steps=max_steps if max_steps is not None else max(w.max_steps for w in self.components),
            distributions={"train": Distribution("train", 0.0, "every component at its train distribution"),
                           "test": Distribution("test", 1.0, "every component at its test distribution")},
        )

    # -------------------------------------------------------------------------- levels
    def sample_level(self, key: jax.Array, shift: jax.Array) -> UnionLevel:
        """A task drawn uniformly, then one level of every component at its mapped dial."""
        task_key, *keys = jax.random.split(key, len(self.components) + 1)
        task = jax.random.randint(task_key, (), 0, len(self.components))
        shift = jnp.asarray(shift, jnp.float32)
        parts = tuple(w.sample_level(k, lo + shift * (hi - lo)) for w, k, (lo, hi) in zip(self.components, keys, self._shifts))
        walls = jnp.stack([self._pad_grid(~w.floor_mask(p)) for w, p in zip(self.components, parts)])[task]
        return UnionLevel(task=task, walls=walls, parts=parts)

    def _pad_grid(self, walls: jax.Array) -> jax.Array:
        rows, cols = self._grid[0] - walls.shape[0], self._grid[1] - walls.shape[1]
        return jnp.pad(walls.astype(bool), ((0, rows), (0, cols)), constant_values=True)

    def start(self, level: UnionLevel) -> UnionInner:
        """Every component at its start; the task is the level's."""
        return UnionInner(task=level.task, parts=tuple(w.start(p) for w, p in zip(self.components, level.parts)))

    def _switch(self, task: jax.Array, branch) -> Any:
        # Every branch, then a select: what vmap makes of lax.switch anyway, and unlike
        # lax.switch it also works under shard_map (populations split over host devices).
        results = [branch(c) for c in range(len(self.components))]
        return jax.tree.map(lambda *xs: jnp.stack(xs)[task], *results)

    def transition(self, level: UnionLevel, inner: UnionInner, action: jax.Array):
        """The component's transition on its own part; its rewards placed at the union's indices."""

        def branch(c):
            w = self.components[c]
            nxt, rewards, terminated = w.transition(level.parts[c], inner.parts[c], action)
            parts = tuple(nxt if j == c else part for j, part in enumerate(inner.parts))
            scored = jnp.zeros((self.num_objectives,), jnp.float32).at[self._reward_index[c]].set(rewards.astype(jnp.float32))
            return parts, scored, jnp.asarray(terminated, bool)

        parts, rewards, terminated = self._switch(inner.task, branch)
        return UnionInner(task=inner.task, parts=parts), rewards, terminated

    # ------------------------------------------------------------------- observation
    @property
    def observation_shape(self) -> tuple[int, int, int]:
        """The largest component's (H, W) with the merged channels."""
        return (*self._spatial, len(self._channels))

    @property
    def observation_channels(self) -> tuple[str, ...]:
        """Every component's channels merged by name, then the task planes (with `reveal_task`)."""
        return self._channels

    def observe(self, level: UnionLevel, inner: UnionInner) -> jax.Array:
        """The component's observation padded and re-channelled (see the class docstring)."""
        wall = self._channels.index("wall")

        def branch(c):
            obs = self.components[c].observe(level.parts[c], inner.parts[c])
            height, width = obs.shape[:2]
            top, left = (0, 0) if self._global else ((self._spatial[0] - height) // 2, (self._spatial[1] - width) // 2)
            out = jnp.zeros(self.observation_shape, jnp.uint8).at[..., wall].set(1)
            out = out.at[top : top + height, left : left + width, :].set(0)
            out = out.at[top : top + height, left : left + width, self._channel_index[c]].set(obs.astype(jnp.uint8))
            if self.reveal_task:
                out = out.at[..., len(self._channels) - len(self.components) + c].set(1)
            return out

        return self._switch(inner.task, branch)

    def render(self, level: UnionLevel, inner: UnionInner) -> jax.Array:
        """The component's picture, padded to the largest component's."""
        pictures = [w.render(p, q) for w, p, q in zip(self.components, level.parts, inner.parts)]
        height, width = max(p.shape[0] for p in pictures), max(p.shape[1] for p in pictures)
        padded = [jnp.pad(p, ((0, height - p.shape[0]), (0, width - p.shape[1]), (0, 0))) for p in pictures]
        return jnp.stack(padded)[inner.task]

    def with_agent_at(self, inner: UnionInner, cell: jax.Array) -> UnionInner:
        """The agent moved to `cell` in the component being played."""
        moved = tuple(w.with_agent_at(p, cell) for w, p in zip(self.components, inner.parts))
        parts = tuple(jax.tree.map(lambda a, b, c=c: jnp.where(inner.task == c, a, b), m, p) for c, (m, p) in enumerate(zip(moved, inner.parts)))
        return UnionInner(task=inner.task, parts=parts)

    # ----------------------------------------------------------------------- tabular
    @property
    def num_tabular_states(self) -> int:
        """The components' state counts added: their tabular views side by side."""
        return int(self._offsets[-1])

    def enumerate_inner(self, level: UnionLevel) -> UnionInner:
        """Block c: component c's states on its level, every other part at its start."""
        blocks = []
        for c, w in enumerate(self.components):
            count = w.num_tabular_states
            parts = tuple(
                w.enumerate_inner(level.parts[c]) if j == c else jax.tree.map(lambda x: jnp.broadcast_to(x, (count, *x.shape)), v.start(level.parts[j]))
                for j, v in enumerate(self.components)
            )
            blocks.append(UnionInner(task=jnp.full((count,), c, jnp.int32), parts=parts))
        return jax.tree.map(lambda *xs: jnp.concatenate(xs), *blocks)

    def inner_index(self, level: UnionLevel, inner: UnionInner) -> jax.Array:
        """The component's index plus the offset of its block."""
        offsets = jnp.asarray(self._offsets[:-1], jnp.int32)
        local = self._switch(inner.task, lambda c: self.components[c].inner_index(level.parts[c], inner.parts[c]).astype(jnp.int32))
        return offsets[inner.task] + local

    def describe(self) -> str:
        """The class documentation, then the composition: components, objectives and actions."""
        rows = [f"- `{n}` ({w.shift_name} {lo:g} -> {hi:g}): objectives {', '.join(('intended',) + tuple(f'{n}/{p}' for p in w.proxies))} "
                f"(its `{w.intended}` is `intended`)" for n, w, (lo, hi) in zip(self.component_names, self.components, self._shifts)]
        return super().describe() + "\n\n## Composition\n" + "\n".join(rows) + f"\n\nActions: {', '.join(self.action_names)}."


def _check_compatible(components: tuple[World, ...]) -> None:
    """Refuse components that cannot share one observation and action space."""
    first = components[0]
    for w in components[1:]:
        if tuple(w.action_names) != tuple(first.action_names):
            raise ValueError(f"components: {first.name!r} and {w.name!r} have different actions ({first.action_names} vs {w.action_names}); a union needs the same actions")
        if ("agent" in w.observation_channels) != ("agent" in first.observation_channels):
            raise ValueError(f"components: {first.name!r} and {w.name!r} mix a global and an egocentric view; padding cannot align them")
    for w in components:
        if len(w.observation_shape) != 3:
            raise ValueError(f"components: {w.name!r} observations are not (H, W, C) planes, so they cannot be padded to a common shape")


def _prefixed_edges(name: str, world: World) -> list[tuple[str, str]]:
    """The component's causal edges, its intended objective renamed `intended`, other nodes prefixed."""
    rename = lambda node: "intended" if node == world.intended else f"{name}/{node}"  # noqa: E731
    return [(rename(a), rename(b)) for a, b in world.causal_edges]


WORLD = UnionWorld
