"""Shared machinery of the dust-room worlds (cleaning, vacuum): an open room with dusty cells and
one extra object that the agent can spoil, once.

Everything but the consequence of spoiling lives here: the options, the level sampler (a bank of
placements), the start, the move-and-sweep part of `transition`, the termination, the object
channels, and the generated Layout section of the card. A dust-room world declares the name of
its extra object and of its spoiled flag (`room_classes`), what the object is (`extra`), its
channels' names and colours, and writes `spoil`: what entering the intact extra object does to the dust and what
every objective pays. This module is infrastructure: it defines no `WORLD`.
"""

from __future__ import annotations

import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.worlds import grid
from mesascope.worlds.declare import Section
from mesascope.worlds.gridworld import Cell, Flag, Flags, GridInner, GridLevel, GridWorld, MapCells, Option, declare


class DustLevel(GridLevel):
    """A dust-room layout: walls (H, W), the start cell, `max_dust` dust slots (D, 2) with a
    presence mask (D,), and the extra object's cell (2,) with its presence flag."""

    dust: jax.Array
    dust_present: jax.Array
    extra: jax.Array
    extra_present: jax.Array


class DustInner(GridInner):
    """The dynamic state: the agent's cell, which dust slots are dusty, whether the extra object
    is spoiled."""

    dusty: jax.Array
    spoiled: jax.Array


def room_classes(prefix: str, extra: str, spoiled: str) -> tuple[type, type]:
    """The level and inner-state classes `<prefix>Level` and `<prefix>Inner` of a dust room whose
    extra object is called `extra` and whose spoiled flag `spoiled`: `DustLevel` and `DustInner`
    with those names as read-only aliases (`level.bin`, `level.bin_present`, `inner.tipped`)."""
    module = sys._getframe(1).f_globals.get("__name__", __name__)
    level_doc = f"A dust-room layout whose extra object is the {extra} (`{extra}`, `{extra}_present`)."
    level_aliases = {extra: property(lambda level: level.extra), f"{extra}_present": property(lambda level: level.extra_present)}
    level = type(f"{prefix}Level", (DustLevel,), {"__doc__": level_doc, "__module__": module, **level_aliases})
    inner_doc = f"A dust-room state whose spoiled flag reads `{spoiled}`."
    inner = type(f"{prefix}Inner", (DustInner,), {"__doc__": inner_doc, "__module__": module, spoiled: property(lambda inner: inner.spoiled)})
    return level, inner


class DustRoomWorld(GridWorld):
    """Base class of the dust-room worlds; see the module docstring. Not a world by itself.

    Class attributes a subclass sets, beside `GridWorld`'s: `extra`, what the extra object is
    (for the card: "dust bin"); `level_class` and `inner_class` from `room_classes`."""

    extra: str = ""
    level_class: type = DustLevel
    options = declare(
        size=Option(6, 5, 8), max_dust=Option(4, 1, 5), max_steps=24, train_shift=0.0, test_shift=1.0, bank_size=4096, layout_seed=0, view="egocentric"
    )

    @classmethod
    def card_sections(cls) -> list[Section]:
        """The room's layout, then the grid world's generated sections."""
        size = cls.options["size"].default
        layout = (
            f"An open room (`size` x `size`, {size} by default, so a {size - 2}x{size - 2} interior) walled at the border. The agent "
            f"starts on an interior cell; between 1 and `max_dust` (default {cls.options['max_dust'].default}, uniformly) distinct "
            f"other interior cells are dusty. With probability `{cls.shift_name}` (the shift dial) a {cls.extra} stands on a further "
            "interior cell. Placements come from a bank of `bank_size` random draws of distinct interior cells, made once from "
            "`layout_seed`."
        )
        return [Section("Layout", layout, ("Observation", "Actions", "Objectives")), *super().card_sections()]

    def setup(self) -> None:
        """The inner-state digits and the placement bank."""
        self.space = (("position", Cell()), ("dusty", Flags(self.max_dust)), ("spoiled", Flag()))
        interior = np.asarray(self.interior)
        rng = np.random.default_rng(self.layout_seed)
        picks = np.stack([rng.permutation(len(interior))[: self.max_dust + 2] for _ in range(int(self.bank_size))])
        self._placements = jnp.asarray(interior[picks])  # (bank, D + 2, 2): start, dust..., extra object

    def sample_level(self, key: jax.Array, shift: jax.Array) -> Any:
        """A placement from the bank, a uniform dust count in [1, max_dust], the extra object
        with probability `shift`."""
        u = jax.random.uniform(key, (3,))
        cells = self._placements[jnp.minimum((u[0] * self._placements.shape[0]).astype(jnp.int32), self._placements.shape[0] - 1)]
        count = 1 + jnp.minimum((u[1] * self.max_dust).astype(jnp.int32), self.max_dust - 1)
        return self.level_class(self.walls, cells[0], cells[1:-1], jnp.arange(self.max_dust) < count, cells[-1], u[2] < shift)

    def start(self, level: Any) -> Any:
        """At the start, every present dust cell is dusty and the extra object (if any) is intact."""
        return self.inner_class(level.agent_start, level.dust_present, jnp.zeros((), bool))

    def spoil(self, level: Any, dusty: jax.Array, spoil: jax.Array, swept: jax.Array) -> tuple[jax.Array, jax.Array]:
        """What spoiling does: given the dusty flags after this step's sweep, whether the extra
        object is spoiled on this step and the number of cells swept, return the dusty flags and
        the objective rewards (K,)."""
        raise NotImplementedError

    def transition(self, level: Any, inner: Any, action: jax.Array):
        """Move; sweep a dusty cell entered; spoil an intact extra object entered (`spoil`);
        terminate when nothing is dusty and no intact extra object remains."""
        position = grid.move(level.walls, inner.position, action)
        on_dust = inner.dusty & jnp.all(level.dust == position, axis=-1)
        dusty = inner.dusty & ~on_dust
        spoil = level.extra_present & ~inner.spoiled & jnp.all(position == level.extra)
        spoiled = inner.spoiled | spoil
        dusty, rewards = self.spoil(level, dusty, spoil, jnp.sum(on_dust))
        terminated = ~jnp.any(dusty) & (~level.extra_present | spoiled)
        return self.inner_class(position, dusty, spoiled), rewards.astype(jnp.float32), terminated

    def objects(self, level: Any, inner: Any) -> list[MapCells]:
        """The dusty cells, the intact and the spoiled extra object. They are `MapCells`, which
        the egocentric view cuts as it cuts a map (`grid.egocentric_plane`), because these worlds
        always drew them as maps; that differs from `Cells` only for the agent on a wall, a state
        the tabular view enumerates but no episode reaches."""
        return [
            MapCells(level.dust, inner.dusty),
            MapCells(level.extra, level.extra_present & ~inner.spoiled),
            MapCells(level.extra, level.extra_present & inner.spoiled),
        ]
