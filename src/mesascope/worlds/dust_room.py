"""Shared machinery of the dust-room worlds (cleaning, vacuum): an open room with dusty cells and
one extra object that the agent can spoil once.

A dust-room world's level holds walls, the start cell, `max_dust` dust slots with a presence
mask, and the extra object's cell with its presence flag; its dynamic state holds the agent's
cell, the dusty flags of the slots and one flag saying whether the extra object is spoiled.
Subclasses name the object and its flag (`extra`, `flag`), give their own `Level`/`Inner`
struct classes with those field names, their colours, and define `transition` (what spoiling
does and what it pays). This module is infrastructure: it defines no `WORLD`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.worlds import grid
from mesascope.worlds.core import Distribution, World


class DustRoomWorld(World):
    """Base class of the dust-room worlds; see the module docstring. Not a world by itself.

    Class attributes a subclass sets, beside `World`'s:
        extra: the extra object's level fields are `<extra>` (cell) and `<extra>_present`.
        object_names: channel names of the intact and the spoiled extra object.
        flag: the inner field saying whether the extra object is spoiled.
        level_class, inner_class: the world's level and inner struct classes.
        colours: dust, intact object and spoiled object colours, in that order.
        distribution_descriptions: descriptions of the `train` and `test` distributions.
    """

    extra: str = ""
    object_names: tuple[str, str] = ("", "")
    flag: str = ""
    level_class: type = object
    inner_class: type = object
    colours: ClassVar[dict[str, tuple[int, int, int]]] = {}
    distribution_descriptions: tuple[str, str] = ("", "")

    def __init__(
        self,
        size: int,
        max_dust: int,
        max_steps: int | None,
        train_shift: float,
        test_shift: float,
        bank_size: int,
        layout_seed: int,
        view: str,
        int_ranges: tuple[tuple[str, int, int, int], ...] = (),
    ):
        """Validate the shared options (and `int_ranges`: (name, value, low, high) checks of a
        subclass's own integer options, made after `max_dust`), then build the placement bank."""
        if not 5 <= size <= 8:
            raise ValueError(f"size must be in [5, 8], got {size}")
        if not 1 <= max_dust <= 5:
            raise ValueError(f"max_dust must be in [1, 5], got {max_dust}")
        for label, value, low, high in int_ranges:
            if not low <= value <= high:
                raise ValueError(f"{label} must be in [{low}, {high}], got {value}")
        for label, value in (("train_shift", train_shift), ("test_shift", test_shift)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} ({self.shift_name}) must be in [0, 1], got {value}")
        if int(bank_size) < 1:
            raise ValueError(f"bank_size must be at least 1, got {bank_size}")
        if view not in grid.VIEWS:
            raise ValueError(f"view must be one of {grid.VIEWS}, got {view!r}")
        train_description, test_description = self.distribution_descriptions
        super().__init__(
            max_steps=max_steps if max_steps is not None else 24,
            distributions={
                "train": Distribution("train", train_shift, train_description),
                "test": Distribution("test", test_shift, test_description),
            },
        )
        self.size, self.max_dust, self.view = size, max_dust, view
        self.walls = jnp.asarray(grid.layout_bank("open", size, size, 1, 0)[0])
        interior = np.argwhere(~np.asarray(self.walls)).astype(np.int32)
        rng = np.random.default_rng(layout_seed)
        picks = np.stack([rng.permutation(len(interior))[: max_dust + 2] for _ in range(int(bank_size))])
        self._placements = jnp.asarray(interior[picks])  # (bank, D + 2, 2): start, dust..., extra object
        self._disk = jnp.asarray(grid.disk_mask(8))

    # ------------------------------------------------------------------ field access helpers
    def _extra_cell(self, level: Any) -> jax.Array:
        return getattr(level, self.extra)

    def _extra_present(self, level: Any) -> jax.Array:
        return getattr(level, f"{self.extra}_present")

    def _spoiled(self, inner: Any) -> jax.Array:
        return getattr(inner, self.flag)

    def _inner(self, position: jax.Array, dusty: jax.Array, spoiled: jax.Array) -> Any:
        return self.inner_class(position=position, dusty=dusty, **{self.flag: spoiled})

    # ------------------------------------------------------------------------- world hooks
    @property
    def observation_shape(self) -> tuple[int, int, int]:
        """Global: (H, W, 5) wall/agent/dust/intact/spoiled; egocentric: (2H-5, 2W-5, 4) without agent."""
        return grid.view_shape(self.view, self.size, len(self.observation_channels))

    @property
    def observation_channels(self) -> tuple[str, ...]:
        """Wall, (agent,) dust, the intact and the spoiled extra object (`object_names`)."""
        return grid.view_channels(self.view, ("dust", *self.object_names))

    @property
    def num_tabular_states(self) -> int:
        """Agent cell x dusty flags of every slot x the spoiled flag."""
        return self.size * self.size * 2**self.max_dust * 2

    def sample_level(self, key: jax.Array, shift: jax.Array) -> Any:
        """A placement from the bank, a uniform dust count in [1, max_dust], the extra object
        with probability `shift`."""
        u = jax.random.uniform(key, (3,))
        cells = self._placements[jnp.minimum((u[0] * self._placements.shape[0]).astype(jnp.int32), self._placements.shape[0] - 1)]
        count = 1 + jnp.minimum((u[1] * self.max_dust).astype(jnp.int32), self.max_dust - 1)
        return self.level_class(
            walls=self.walls,
            agent_start=cells[0],
            dust=cells[1:-1],
            dust_present=jnp.arange(self.max_dust) < count,
            **{self.extra: cells[-1], f"{self.extra}_present": u[2] < shift},
        )

    def start(self, level: Any) -> Any:
        """At the start, every present dust cell is dusty and the extra object (if any) is intact."""
        return self._inner(level.agent_start, level.dust_present, jnp.zeros((), bool))

    def _planes(self, level: Any, inner: Any) -> list[jax.Array]:
        """(H, W) uint8 maps of dusty cells, the intact extra object and the spoiled one."""
        shape = level.walls.shape
        dust = jnp.zeros(shape, jnp.uint8).at[level.dust[:, 0], level.dust[:, 1]].max(inner.dusty.astype(jnp.uint8))
        extra = grid.one_hot_cell(shape, self._extra_cell(level)) * self._extra_present(level).astype(jnp.uint8)
        spoiled = self._spoiled(inner)
        return [dust, extra * (~spoiled).astype(jnp.uint8), extra * spoiled.astype(jnp.uint8)]

    def observe(self, level: Any, inner: Any) -> jax.Array:
        """One-hot channels: wall, dust, intact, spoiled around the agent (egocentric) or wall,
        agent, dust, intact, spoiled over the grid (global)."""
        planes = self._planes(level, inner)
        if self.view == "egocentric":
            shifted = [grid.egocentric_plane(plane, inner.position) for plane in planes]
            return jnp.stack([grid.egocentric_walls(level.walls, inner.position).astype(jnp.uint8), *shifted], axis=-1)
        agent = grid.one_hot_cell(level.walls.shape, inner.position)
        return jnp.stack([level.walls.astype(jnp.uint8), agent, *planes], axis=-1)

    def render(self, level: Any, inner: Any) -> jax.Array:
        """RGB picture, 8 pixels per cell: grey walls, then dust, the intact and the spoiled
        object in `colours` order, and a red agent."""
        shape = level.walls.shape
        canvas = jnp.zeros(shape + (3,), jnp.uint8) + jnp.array(grid.PALETTE["floor"], jnp.uint8)
        canvas = grid.paint(canvas, level.walls, grid.PALETTE["wall"])
        for mask, colour in zip(self._planes(level, inner), self.colours.values()):
            canvas = grid.paint(canvas, mask, colour)
        big = grid.upscale(canvas, 8)
        agent = jnp.repeat(jnp.repeat(grid.one_hot_cell(shape, inner.position), 8, 0), 8, 1).astype(bool)
        return grid.paint(big, agent & jnp.tile(self._disk, shape), grid.PALETTE["agent"])

    def enumerate_inner(self, level: Any) -> Any:
        """Every (cell, dusty flags, spoiled) combination, in `inner_index` order."""
        index = np.arange(self.num_tabular_states)
        cell, rest = np.divmod(index, 2 ** (self.max_dust + 1))
        bits, spoiled = np.divmod(rest, 2)
        position = np.stack(np.divmod(cell, self.size), -1).astype(np.int32)
        dusty = (bits[:, None] >> np.arange(self.max_dust)) & 1
        return self._inner(jnp.asarray(position), jnp.asarray(dusty, bool), jnp.asarray(spoiled, bool))

    def inner_index(self, level: Any, inner: Any) -> jax.Array:
        """((row * size + col) * 2**D + dusty bits) * 2 + spoiled."""
        cell = inner.position[0] * self.size + inner.position[1]
        bits = jnp.sum(inner.dusty.astype(jnp.int32) << jnp.arange(self.max_dust))
        return ((cell * 2**self.max_dust + bits) * 2 + self._spoiled(inner).astype(jnp.int32)).astype(jnp.int32)
