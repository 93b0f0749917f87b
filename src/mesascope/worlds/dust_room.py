"""Shared machinery of the dust-room worlds (cleaning, vacuum): an open room with dusty cells and
one extra object that the agent can spoil once.

A dust-room world's level holds, in this field order, walls, the start cell, `max_dust` dust
slots with a presence mask, and the extra object's cell with its presence flag; its inner state
holds the agent's cell, the dusty flags of the slots and one flag saying whether the extra
object is spoiled (named `flag`). Subclasses give their own `Level`/`Inner` struct classes,
their object channels (`objects`) and colours, and `transition` (what spoiling does and what it
pays). This module is infrastructure: it defines no `WORLD`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.worlds.gridworld import Cell, Cells, Flag, Flags, GridWorld, open_walls, require


class DustRoomWorld(GridWorld):
    """Base class of the dust-room worlds; see the module docstring. Not a world by itself.

    Class attributes a subclass sets, beside `GridWorld`'s: `flag`, the name of the inner field
    saying whether the extra object is spoiled, and `level_class`, the level struct class."""

    flag: str = ""
    level_class: type = object
    size_range = (5, 8)
    default_max_steps = 24

    def __init__(
        self,
        size: int = 6,
        max_dust: int = 4,
        max_steps: int | None = None,
        train_shift: float = 0.0,
        test_shift: float = 1.0,
        bank_size: int = 4096,
        layout_seed: int = 0,
        view: str = "egocentric",
    ):
        """Check the options, then build the placement bank."""
        super().__init__(size, view, max_steps, train_shift, test_shift)
        require("max_dust", max_dust, 1, 5)
        require("bank_size", int(bank_size), 1)
        self.max_dust = max_dust
        self.space = (("position", Cell()), ("dusty", Flags(max_dust)), (self.flag, Flag()))
        self.walls = jnp.asarray(open_walls(size))
        interior = np.argwhere(~open_walls(size)).astype(np.int32)
        rng = np.random.default_rng(layout_seed)
        picks = np.stack([rng.permutation(len(interior))[: max_dust + 2] for _ in range(int(bank_size))])
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

    def room_maps(self, shape: tuple[int, int], dust: jax.Array, dusty: jax.Array, extra: jax.Array, present: jax.Array, spoiled: jax.Array) -> list[jax.Array]:
        """(H, W) maps of the dusty cells, the intact and the spoiled extra object. They are maps
        rather than `Cells` so the egocentric view cuts them with `grid.egocentric_plane`, which
        is what these worlds always did (it differs from `egocentric_cell` only for the agent on
        a wall, a state the tabular view enumerates but no episode reaches)."""
        dust_map = jnp.zeros(shape, jnp.uint8).at[dust[:, 0], dust[:, 1]].max(dusty.astype(jnp.uint8))
        cells = lambda *args: self.global_map(shape, Cells(*args))
        return [dust_map, cells(extra, present & ~spoiled), cells(extra, present & spoiled)]
