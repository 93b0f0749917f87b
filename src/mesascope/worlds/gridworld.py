"""The grid-world layer: a world declares its objects, inventory, colours, inner-state space and
options; this module builds both observation views, the renderer, the constructor with its option
checks, the tabular encoding and the generated parts of the world's documentation.

A `GridWorld` subclass writes only its mechanics and declarations:

- `options = declare(size=9, layout="rooms", ..., num_plants=Option(3, 1, 5))`: the constructor's
  options in order, with their defaults and allowed values (`declare`); every option becomes an
  attribute, a `layout` option also brings the layout bank (`bank`, `wall_bank`, `tables`),
  otherwise the open room (`walls`, `interior`); `setup()` works out what depends on them;
- `object_names` (channel names) and `objects(level, inner)`: one entry per object channel,
  either `Cells(cells, present)` (a cell (2,) or cells (k, 2), with presence) or an (H, W)
  uint8 map over the grid (or `MapCells`, the same map drawn from its cells, which is cheaper),
  or one `SharedCells` for several channels on the same cells;
- `inventory_names` (bool fields of the inner state shown as constant planes) or `held_counter`
  = (field, n) (the thermometer of a count); `inventory(level, inner)` for anything else;
- `colours` (object name -> RGB) and `round_objects` (drawn as disks, after the grid lines);
  `drawing(level, inner)` overrides what is painted for worlds that draw more than objects;
- `space`: the inner state as digits, most significant first, `(field, Cell() | Flag() |
  Flags(n) | Counter(n))` (see `space.py`), and `inner_class` (None when the inner state is the
  cell itself); level and inner classes extend `GridLevel` / `GridInner` (`GridLevel.extend`
  declares one in a line);
- `sample_level`, `transition`, the causal graph (`edges("a -> b, c")`) and the docstring;
  `start` only where an episode does not start with the agent on `level.agent_start` and every
  other digit 0.

The layer turns them into `observe` (wall, agent (global view only), objects, inventory),
`render`, `enumerate_inner` / `inner_index` (mixed-radix over `space`), `num_tabular_states`,
the observation shape and channel names, and the card: the world's docstring gains generated
Observation, Actions, step-limit and Distributions text and its Gymnasium id (`declare.card`).
Egocentric views show the interior in a (2H-5, 2W-5) window centred on the agent, walls
outside (see `grid.egocentric_plane`).
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mesascope.worlds import grid
from mesascope.worlds.core import Distribution, World
from mesascope.worlds.declare import COMMON, Option, Section, actions_text, card, declare, distributions_text, edges, observation_text, require, require_choice, signature
from mesascope.worlds.space import Cell, Counter, Digit, Flag, Flags

__all__ = ["Cell", "Cells", "Counter", "Flag", "Flags", "GridInner", "GridLevel", "GridWorld", "MapCells", "Option", "SharedCells", "declare", "edges", "open_walls", "require", "require_choice"]


# ------------------------------------------------------------------------- declarations
class Cells(NamedTuple):
    """Where an object channel is lit: a cell (2,) or cells (k, 2), each shown where `present`."""

    cells: jax.Array
    present: Any = True


class MapCells(NamedTuple):
    """Like `Cells`, for an object channel that the egocentric view cuts as it cuts an (H, W) map
    (`grid.egocentric_plane`: only interior cells show, and from a border cell the window sits as
    `grid.plane_window_centre` says), computed from the cells without building the map."""

    cells: jax.Array
    present: Any = True


class SharedCells(NamedTuple):
    """Several consecutive object channels lit on the same cells, one per entry of `presents`
    (each like `Cells.present`); the cells are mapped once for all of them."""

    cells: jax.Array
    presents: tuple[Any, ...]


def open_walls(size: int) -> np.ndarray:
    """The (size, size) bool walls of an open room: the border only."""
    return grid.layout_bank("open", size, size, 1, 0)[0]


class _Struct(struct.PyTreeNode):
    """A pytree of arrays whose subclasses may be declared in one line (`extend`)."""

    @classmethod
    def extend(cls, name: str, fields: str, doc: str) -> type:
        """A subclass named `name` with this class's fields, then the array fields `fields`
        (space-separated), documented by `doc`: declared as `collections.namedtuple` declares a
        tuple, and defined in the caller's module."""
        module = sys._getframe(1).f_globals.get("__name__", __name__)
        return type(name, (cls,), {"__annotations__": dict.fromkeys(fields.split(), "jax.Array"), "__doc__": doc, "__module__": module})


class GridLevel(_Struct):
    """What every grid-world level holds first; a world's level class extends it with its own
    fields (objects' cells, presence flags) after these."""

    walls: jax.Array
    agent_start: jax.Array


class GridInner(_Struct):
    """What every structured inner state holds first: the agent's cell (row, col); a world's
    inner class extends it with its flags and counters (declared in `space`)."""

    position: jax.Array


# -------------------------------------------------------------------------------- layer
class GridWorld(World):
    """Base class of the square grid worlds; see the module docstring."""

    action_names = grid.MOVE_NAMES
    object_names: tuple[str, ...] = ()
    inventory_names: tuple[str, ...] = ()
    held_counter: tuple[str, int] | None = None
    colours: ClassVar[dict[str, tuple[int, int, int]]] = {}
    round_objects: frozenset[str] = frozenset()
    space: tuple[tuple[str, Digit], ...] = (("position", Cell()),)
    inner_class: type | None = None
    options: ClassVar[dict[str, Option]] = declare(size=7, view="egocentric", max_steps=None, train_shift=0.0, test_shift=1.0)
    max_steps: int | None = None  # what a declaration without these options gets
    train_shift: float = 0.0
    test_shift: float = 1.0
    descriptions: tuple[str, str] = ("", "")

    def __init_subclass__(cls, **kwargs: Any):
        """Give the class the constructor signature of its `options` (unless it writes its own
        `__init__`) and, for a named world with a docstring, the generated card sections."""
        super().__init_subclass__(**kwargs)
        if cls.held_counter is not None:
            cls.inventory_names = tuple(f"{cls.held_counter[0]}_{k}" for k in range(1, cls.held_counter[1] + 1))
        cls.__signature__ = None if "__init__" in cls.__dict__ else signature(cls.options)  # type: ignore[attr-defined]
        if cls.name and cls.__dict__.get("__doc__"):
            cls.__doc__ = card(cls.__doc__, cls.name, cls.card_sections())

    @classmethod
    def card_sections(cls) -> list[Section]:
        """Generated docstring sections: the observation channels of both views, the actions, the
        step limit (unless the termination section speaks of `max_steps` itself) and the two
        distributions' dials and descriptions."""
        declared = cls.options.get("max_steps", COMMON["max_steps"]).default
        size = cls.options["size"].default if "size" in cls.options else None
        steps = declared or (f"4*size, {4 * size} at the default size {size}" if isinstance(size, int) else "4*size")
        return [
            Section("Observation", observation_text(cls.options, cls.object_names, cls.inventory_names, cls.held_counter), ("Actions", "Objectives")),
            Section("Actions", actions_text(cls.action_names), ("Objectives",)),
            Section("Termination", f"The episode is truncated after `max_steps` steps (default {steps}).", ("Distributions",), last=True, unless="max_steps"),
            Section("Distributions", distributions_text(cls.shift_name, cls.options, cls.descriptions), ("What it demonstrates",)),
        ]

    def __init__(self, *args: Any, **kwargs: Any):
        """Bind the arguments to the declared `options` and check each against its allowed values;
        keep every option as an attribute; build the walls (`walls` of the open room and its
        `interior` cells (n, 2) in row-major order, or with a
        `layout` option the layout bank `bank` / `wall_bank` and its cell `tables` (start column
        1, exit column size - 2; see `grid.cell_tables`)); run the world's `setup`; then
        check both shifts against `shift_range` and set the distributions. `max_steps` left at
        None is 4 * size."""
        bound = signature(type(self).options).bind(*args, **kwargs)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            type(self).options[name].check(name, value)
            setattr(self, name, value)
        if "layout" in bound.arguments:
            self.bank = grid.layout_bank(self.layout, self.size, self.size, self.bank_size, self.layout_seed, self.obstacle_density)
            self.wall_bank = jnp.asarray(self.bank)
            self.tables = jax.tree.map(jnp.asarray, grid.cell_tables(self.bank, start_column=1, exit_column=self.size - 2))
        else:
            self.walls = jnp.asarray(open_walls(self.size))
            self.interior = jnp.asarray(np.argwhere(~open_walls(self.size)), jnp.int32)
        self._disk = jnp.asarray(grid.disk_mask(8))
        self.setup()
        for label in ("train_shift", "test_shift"):
            require(f"{label} ({self.shift_name})", getattr(self, label), *self.shift_range)
        train, test = self.descriptions
        super().__init__(
            max_steps=self.max_steps if self.max_steps is not None else 4 * self.size,
            distributions={"train": Distribution("train", self.train_shift, train), "test": Distribution("test", self.test_shift, test)},
        )

    def setup(self) -> None:
        """Work out what depends on the options (tables for the level sampler, the inner-state
        `space`, checks that involve several options); the options are attributes by now."""

    # ------------------------------------------------------------- sampler helpers
    def layout_index(self, u: jax.Array) -> jax.Array:
        """The layout of the bank that a uniform number `u` in [0, 1) picks."""
        return (u * self.wall_bank.shape[0]).astype(jnp.int32)

    # ------------------------------------------------------------- hooks a world defines
    def start(self, level: Any) -> Any:
        """The agent on `level.agent_start`, every other digit of `space` False or 0."""
        if self.inner_class is None:
            return level.agent_start
        return self.inner_class(position=level.agent_start, **{name: digit.zero() for name, digit in self.space if name != "position"})

    def objects(self, level: Any, inner: Any) -> Sequence[Cells | MapCells | SharedCells | jax.Array]:
        """One entry per object channel: `Cells`, `MapCells` or an (H, W) uint8 map (or one
        `SharedCells` for several channels)."""
        return ()

    def inventory(self, level: Any, inner: Any) -> Sequence[jax.Array]:
        """One bool per non-spatial plane (`inventory_names`). By default, with `held_counter` =
        (field, n) declared, the thermometer of that inner-state count (at least 1, ..., at least
        n); otherwise each inventory name is a bool field of the inner state, shown as it is."""
        if self.held_counter is None:
            return [getattr(inner, name) for name in self.inventory_names]
        field, count = self.held_counter
        return [getattr(inner, field) >= k for k in range(1, count + 1)]

    def drawing(self, level: Any, inner: Any) -> list[tuple[jax.Array, Any, bool]]:
        """(H, W) masks to paint in order, with a colour and whether drawn round; by default
        every object channel that has a colour."""
        shape = level.walls.shape
        maps = _channels(self.objects(level, inner), lambda cell: grid.one_hot_cell(shape, cell), lambda plane: plane)
        return [(plane, self.colours[name], name in self.round_objects) for name, plane in zip(self.object_names, maps) if name in self.colours]

    def check_traced_parts(self, level: Any, inner: Any) -> None:
        """Within `check_declarations`: `objects` gives one channel per name in `object_names`
        (a `SharedCells` counts one per presence)."""
        entries = jax.eval_shape(self.objects, level, inner)
        count = sum(len(entry.presents) if isinstance(entry, SharedCells) else 1 for entry in entries)
        if count != len(self.object_names):
            raise ValueError(f"objects() of {self.name!r} gives {count} channel(s), but object_names has {len(self.object_names)}: "
                             f"{list(self.object_names)}")

    # ------------------------------------------------------------------ derived views
    @staticmethod
    def position(inner: Any) -> jax.Array:
        """The agent's cell of an inner state."""
        return getattr(inner, "position", inner)

    @property
    def non_object_channels(self) -> tuple[str, ...]:  # type: ignore[override]
        """The wall, the agent and the inventory planes: every channel that is not an object."""
        return ("wall", "agent", *self.inventory_names)

    @property
    def observation_channels(self) -> tuple[str, ...]:
        """Wall, (agent,) the object channels, then the inventory planes."""
        return grid.view_channels(self.view, self.object_names, self.inventory_names)

    @property
    def one_hot_channels(self) -> tuple[int, ...]:
        """The agent's channel (global view) and every object channel declared on a single cell
        (`Cells`, `MapCells` or `SharedCells` of one cell): each lights at most one cell."""
        level = jax.eval_shape(self.sample_level, jax.random.key(0), jnp.float32(0.0))
        entries = jax.eval_shape(self.objects, level, jax.eval_shape(self.start, level))
        single: list[bool] = []
        for entry in entries:
            one_cell = _on_one_cell(entry)
            single += [one_cell] * (len(entry.presents) if isinstance(entry, SharedCells) else 1)
        agent = () if self.view == "egocentric" else (1,)
        first = 1 + len(agent)
        return agent + tuple(first + i for i, one_cell in enumerate(single) if one_cell)

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        """(H, W, C) in the global view, (2H-5, 2W-5, C) in the egocentric one."""
        return grid.view_shape(self.view, self.size, len(self.observation_channels))

    @staticmethod
    def global_map(shape: tuple[int, int], entry: Cells | MapCells | jax.Array) -> jax.Array:
        """An object channel over the (H, W) grid."""
        return _cells_map(entry, lambda cell: grid.one_hot_cell(shape, cell)) if isinstance(entry, (Cells, MapCells)) else entry

    def observe(self, level: Any, inner: Any) -> jax.Array:
        """One-hot uint8 channels of the current view (see the module docstring), drawn by
        `observe_lit_cells` where `lights_cells` says so, else `observe_maps`: the same bytes."""
        entries = self.objects(level, inner)
        if self.lights_cells(entries):
            return self.observe_lit_cells(level, inner, entries)
        return self.observe_maps(level, inner, entries)

    def lights_cells(self, entries: Sequence[Any]) -> bool:
        """Whether `observe` draws by `observe_lit_cells`: every object channel of `entries` is
        lit on one cell at most, and at least two channels are lit (the agent's counts in the
        global view)."""
        lit = sum(len(entry.presents) if isinstance(entry, SharedCells) else 1 for entry in entries) + (self.view == "global")
        return lit >= 2 and all(_on_one_cell(entry) for entry in entries)

    def observe_maps(self, level: Any, inner: Any, entries: Sequence[Any]) -> jax.Array:
        """`observe` with a map drawn for every channel (`entries` = `objects(level, inner)`)."""
        shape, position = level.walls.shape, self.position(inner)
        if self.view == "egocentric":
            planes = [grid.egocentric_walls(level.walls, position).astype(jnp.uint8)]
            cell_map = lambda cell: grid.egocentric_cell(shape, position, cell)
            map_cells = lambda entry: grid.egocentric_plane_cells(shape, position, *_as_many(entry))
            planes += _channels(entries, cell_map, lambda plane: grid.egocentric_plane(plane, position), map_cells)
        else:
            planes = [level.walls.astype(jnp.uint8), grid.one_hot_cell(shape, position)]
            planes += _channels(entries, lambda cell: grid.one_hot_cell(shape, cell), lambda plane: plane)
        planes = [plane.astype(jnp.uint8) for plane in planes]
        planes += [jnp.full(planes[0].shape, value, jnp.uint8) for value in self.inventory(level, inner)]
        return jnp.stack(planes, axis=-1)

    def observe_lit_cells(self, level: Any, inner: Any, entries: Sequence[Cells | MapCells | SharedCells]) -> jax.Array:
        """`observe` when every object channel (and the agent's, in the global view) is lit on
        one cell at most: the walls (cut from row bitmasks) and inventory planes are drawn, the
        other channels start dark, and one scatter writes each lit cell. The same bytes as
        drawing a one-hot map per channel, which XLA's CPU code computes cell by cell. It pays
        from two lit channels on (coin, detour, lamp, and corner's global view); with one
        (corner's egocentric view) the scatter costs more than it saves (docs/benchmarks.md,
        round 9)."""
        shape, position = level.walls.shape, self.position(inner)
        height, width, _ = self.observation_shape
        egocentric = self.view == "egocentric"
        interior = jnp.array(shape) - 2

        def light(entry: Cells | MapCells | SharedCells, present: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
            """(cell in the view, value, shown) as `_channels` draws the entry's channel."""
            if egocentric and isinstance(entry, MapCells):  # as `grid.egocentric_plane_cells`
                shown = jnp.asarray(present, bool) & jnp.all((entry.cells >= 1) & (entry.cells <= interior))
                return grid.plane_window_offset(shape, position, entry.cells), jnp.uint8(1), shown
            cell = grid.egocentric_offset(shape, position, entry.cells) if egocentric else entry.cells
            return cell, jnp.asarray(present).astype(jnp.uint8), jnp.asarray(True)

        lights = [] if egocentric else [(position, jnp.uint8(1), jnp.asarray(True))]
        lights += [light(entry, present) for entry in entries for present in (entry.presents if isinstance(entry, SharedCells) else (entry.present,))]
        walls = grid.egocentric_walls_from_rows(level.walls, position) if egocentric else level.walls
        dark = jnp.zeros((height, width), jnp.uint8)
        inventory = [jnp.full((height, width), value, jnp.uint8) for value in self.inventory(level, inner)]
        obs = jnp.stack([walls.astype(jnp.uint8), *[dark] * len(lights), *inventory], axis=-1)
        if not lights:
            return obs
        cells = jnp.stack([cell for cell, _, _ in lights])
        shown = jnp.stack([shown for _, _, shown in lights]) & jnp.all((cells >= 0) & (cells < jnp.array([height, width])), axis=-1)
        rows = jnp.where(shown, cells[:, 0], height)  # a row past the view: the scatter drops it
        values = jnp.stack([value for _, value, _ in lights])
        return obs.at[rows, cells[:, 1], jnp.arange(1, 1 + len(lights))].set(values, mode="drop")

    def render(self, level: Any, inner: Any) -> jax.Array:
        """RGB, 8 px per cell: grey walls, square objects, grid lines, round objects, red agent."""
        shape = level.walls.shape
        canvas = jnp.zeros(shape + (3,), jnp.uint8) + jnp.array(grid.PALETTE["floor"], jnp.uint8)
        canvas = grid.paint(canvas, level.walls, grid.PALETTE["wall"])
        drawn = self.drawing(level, inner)
        for mask, colour, round_ in drawn:
            if not round_:
                canvas = grid.paint(canvas, mask, colour)
        big = grid.upscale(canvas, 8)
        disks = jnp.tile(self._disk, shape)
        agent = (grid.one_hot_cell(shape, self.position(inner)), grid.PALETTE["agent"], True)
        for mask, colour, round_ in [*drawn, agent]:
            if round_:
                big = grid.paint(big, jnp.repeat(jnp.repeat(mask, 8, 0), 8, 1).astype(bool) & disks, colour)
        return big

    # ---------------------------------------------------------------------- features
    @property
    def feature_names(self) -> tuple[str, ...]:
        """Named state features (what reward shaping may use): `distance_to_<object>` for every
        object channel."""
        return tuple(f"distance_to_{name}" for name in self.object_names)

    def features(self, level: Any, inner: Any) -> jax.Array:
        """(F,) float32 values of `feature_names`: the Manhattan distance from the agent to the
        nearest lit cell of each object channel (0 where the channel is dark everywhere)."""
        shape = level.walls.shape
        maps = _channels(self.objects(level, inner), lambda cell: grid.one_hot_cell(shape, cell), lambda plane: plane)
        rows, cols = jnp.indices(shape)
        position = self.position(inner)
        distance = (jnp.abs(rows - position[0]) + jnp.abs(cols - position[1])).astype(jnp.float32)
        nearest = [jnp.min(jnp.where(plane > 0, distance, jnp.inf)) for plane in maps]
        return jnp.stack([jnp.where(jnp.isfinite(d), d, 0.0) for d in nearest]).astype(jnp.float32)

    # ----------------------------------------------------------------------- tabular
    @property
    def num_tabular_states(self) -> int:
        """The product of the radices of `space`."""
        return int(np.prod([digit.radix(self.size) for _, digit in self.space]))

    def enumerate_inner(self, level: Any) -> Any:
        """Every combination of the digits of `space`, in `inner_index` order."""
        index = np.arange(self.num_tabular_states)
        fields = {}
        for name, digit in reversed(self.space):
            index, value = np.divmod(index, digit.radix(self.size))
            fields[name] = digit.decode(value, self.size)
        return self._inner(fields)

    def inner_index(self, level: Any, inner: Any) -> jax.Array:
        """Mixed-radix number of the inner state's digits, most significant first."""
        total = jnp.zeros((), jnp.int32)
        for name, digit in self.space:
            value = self.position(inner) if self.inner_class is None else getattr(inner, name)
            total = total * digit.radix(self.size) + digit.encode(value, self.size)
        return total.astype(jnp.int32)

    def _inner(self, fields: dict[str, jax.Array]) -> Any:
        return fields["position"] if self.inner_class is None else self.inner_class(**fields)


def _cells_map(entry: Cells | MapCells, cell_map) -> jax.Array:
    """The uint8 map of `Cells` drawn with `cell_map(cell)`, absent cells left dark."""
    return _present_map(cell_map(entry.cells) if entry.cells.ndim == 1 else jax.vmap(cell_map)(entry.cells), entry.present, entry.cells.ndim)


def _present_map(maps: jax.Array, present: Any, ndim: int) -> jax.Array:
    """A map (ndim 1: one cell) or maps (k, h, w) masked by `present` and merged."""
    if ndim == 1:
        return maps * jnp.asarray(present).astype(jnp.uint8)
    return jnp.any((maps > 0) & jnp.asarray(present, bool)[:, None, None], axis=0).astype(jnp.uint8)


def _on_one_cell(entry: Any) -> bool:
    """Whether an `objects` entry lights one cell at most (a cell (2,), not cells (k, 2) or a map)."""
    return isinstance(entry, (Cells, MapCells, SharedCells)) and entry.cells.ndim == 1


def _as_many(entry: MapCells) -> tuple[jax.Array, jax.Array]:
    """The cells (k, 2) and presence (k,) of `entry`, for one cell as for several."""
    cells = entry.cells.reshape(-1, 2)
    return cells, jnp.broadcast_to(jnp.asarray(entry.present), cells.shape[:1])


def _channels(entries: Sequence[Any], cell_map, plane_map, map_cells=None) -> list[jax.Array]:
    """One map per object channel of `entries` (`Cells`, `MapCells`, `SharedCells` or (H, W)
    maps, the latter passed through `plane_map`); `map_cells(entry)` draws a `MapCells` where the
    view cuts maps (otherwise it is drawn like `Cells`)."""
    out = []
    for entry in entries:
        if isinstance(entry, MapCells):
            out.append(map_cells(entry) if map_cells else _cells_map(entry, cell_map))
        elif isinstance(entry, SharedCells):
            maps = cell_map(entry.cells) if entry.cells.ndim == 1 else jax.vmap(cell_map)(entry.cells)
            out += [_present_map(maps, present, entry.cells.ndim) for present in entry.presents]
        else:
            out.append(_cells_map(entry, cell_map) if isinstance(entry, Cells) else plane_map(entry))
    return out
