"""Shared grid mechanics: moves, wall layouts (generated once, in NumPy, into a bank), drawing.

Positions are int32 arrays `(row, col)`. Layout banks are made at world construction from a
seed, so levels are drawn inside jit by indexing the bank (cheap under vmap, unlike running a
maze generator inside every auto-reset).
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

MOVE_NAMES = ("up", "right", "down", "left")
MOVES = jnp.array([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=jnp.int32)
LAYOUTS = ("open", "rooms", "maze")
VIEWS = ("global", "egocentric")


def move(walls: jax.Array, position: jax.Array, action: jax.Array) -> jax.Array:
    """The position after trying to move in direction `action`; walls block the move."""
    target = position + MOVES[action]
    blocked = walls[target[0], target[1]]
    return jnp.where(blocked, position, target)


def one_hot_cell(shape: tuple[int, int], position: jax.Array) -> jax.Array:
    """A (H, W) uint8 map with a single 1 at `position`."""
    rows = jnp.arange(shape[0])[:, None] == position[0]
    cols = jnp.arange(shape[1])[None, :] == position[1]
    return (rows & cols).astype(jnp.uint8)


def view_channels(view: str, objects: tuple[str, ...], planes: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Channel names in the grid worlds' order: wall, the agent (global view only; an egocentric
    view is centred on it), the object channels, then any non-spatial planes."""
    return ("wall", *(("agent",) if view == "global" else ()), *objects, *planes)


def view_shape(view: str, size: int, channels: int) -> tuple[int, int, int]:
    """Observation shape of a square grid world of side `size`: (size, size, C) for the global
    view, (2·size − 5, 2·size − 5, C) for the egocentric window over the interior."""
    side = size if view == "global" else 2 * size - 5
    return (side, side, channels)


def egocentric_plane(plane: jax.Array, position: jax.Array, outside: bool | int = 0) -> jax.Array:
    """The interior of a border-walled (H, W) map in a (2(H-2)-1, 2(W-2)-1) window centred on
    `position`; cells outside the interior read as `outside`. Every interior cell is visible
    from every interior position."""
    interior = plane[1:-1, 1:-1]
    height, width = interior.shape
    padded = jnp.pad(interior, ((height - 1, height - 1), (width - 1, width - 1)), constant_values=outside)
    return jax.lax.dynamic_slice(padded, (position[0] - 1, position[1] - 1), (2 * height - 1, 2 * width - 1))


def egocentric_walls(walls: jax.Array, position: jax.Array) -> jax.Array:
    """`egocentric_plane` of the walls, with everything outside the interior a wall."""
    return egocentric_plane(walls, position, outside=True)


def egocentric_walls_from_rows(walls: jax.Array, position: jax.Array) -> jax.Array:
    """`egocentric_walls`, the same bits, cut from the interior's row bitmasks: the window is
    2(H-2)-1 shifted words, then one shift and mask per cell. XLA's CPU code runs this as
    plain arithmetic where the padded map's window is a gather per cell, which costs most
    where the walls change from step to step (`GridWorld.observe` of worlds whose objects each
    sit on one cell; docs/benchmarks.md round 9). For interiors up to 11 cells wide, so that a
    padded row fits in 32 bits; wider ones take `egocentric_walls`."""
    height, width = walls.shape[0] - 2, walls.shape[1] - 2
    if 3 * width - 2 > 32:
        return egocentric_walls(walls, position)
    centre = plane_window_centre(walls.shape, position)
    margin = (1 << (width - 1)) - 1  # the window's reach past the interior on one side, all walls
    outside = jnp.full((height - 1,), (1 << (3 * width - 2)) - 1, jnp.uint32)
    rows = (row_bits(walls[1:-1, 1:-1]) << (width - 1)) | margin | (margin << (2 * width - 1))
    padded = jnp.concatenate([outside, rows, outside])  # the rows of `egocentric_plane`'s padded map
    window = jax.lax.dynamic_slice(padded, (centre[0] - 1,), (2 * height - 1,)) >> (centre[1] - 1).astype(jnp.uint32)
    return ((window[:, None] >> jnp.arange(2 * width - 1, dtype=jnp.uint32)) & 1).astype(bool)


def egocentric_cell(shape: tuple[int, int], position: jax.Array, cell: jax.Array) -> jax.Array:
    """A one-hot (2(H-2)-1, 2(W-2)-1) map of `cell` in the window centred on `position`."""
    height, width = shape[0] - 2, shape[1] - 2
    return one_hot_cell((2 * height - 1, 2 * width - 1), egocentric_offset(shape, position, cell))


def egocentric_offset(shape: tuple[int, int], position: jax.Array, cell: jax.Array) -> jax.Array:
    """Where `cell` (.., 2) falls in the (2(H-2)-1, 2(W-2)-1) window centred on `position`
    (`egocentric_cell`); outside the window when off by more than the interior."""
    return cell - position + jnp.array([shape[0] - 3, shape[1] - 3])


def plane_window_offset(shape: tuple[int, int], position: jax.Array, cells: jax.Array) -> jax.Array:
    """Where interior `cells` (.., 2) fall in `egocentric_plane`'s window from `position`."""
    return cells - plane_window_centre(shape, position) + jnp.array([shape[0] - 3, shape[1] - 3])


def plane_window_centre(shape: tuple[int, int], position: jax.Array) -> jax.Array:
    """The cell on which `egocentric_plane` centres its window: `position` itself anywhere in the
    interior. From a border cell the window's start falls off the padded map, and
    `lax.dynamic_slice` wraps a start of -1 round to the far end and clamps a start past the end,
    so the window then sits as if centred on the last interior row (column)."""
    last = jnp.array([shape[0] - 2, shape[1] - 2])
    return jnp.where(position == 0, last, jnp.clip(position, 1, last))


def egocentric_plane_cells(shape: tuple[int, int], position: jax.Array, cells: jax.Array, present: jax.Array) -> jax.Array:
    """`egocentric_plane` of the (H, W) map lit at the present ones of `cells` (k, 2), without
    building the map: a window map lit where a present interior cell falls."""
    height, width = shape[0] - 2, shape[1] - 2
    last = jnp.array([height, width])
    inside = present & jnp.all((cells >= 1) & (cells <= last), axis=-1)
    offset = plane_window_offset(shape, position, cells)  # (k, 2) window coordinates
    rows = jnp.arange(2 * height - 1)[None, :, None] == offset[:, 0, None, None]
    cols = jnp.arange(2 * width - 1)[None, None, :] == offset[:, 1, None, None]
    return jnp.any(rows & cols & inside[:, None, None], axis=0).astype(jnp.uint8)


# ------------------------------------------------------------------ bitwise flood fill
def row_bits(mask: jax.Array) -> jax.Array:
    """An (H, W) bool mask as H uint32 row bitmasks (bit c of row r is mask[r, c]; W <= 32)."""
    return jnp.sum(mask.astype(jnp.uint32) << jnp.arange(mask.shape[-1], dtype=jnp.uint32), axis=-1, dtype=jnp.uint32)


def reachable_rows(free_rows: jax.Array, start: jax.Array) -> jax.Array:
    """Row bitmasks of the cells of `free_rows` 4-connected to `start`: a flood fill on bits,
    nine times cheaper than on booleans, which matters because every auto-reset under vmap runs
    it (docs/design.md §5). The border must not be free, so shifts and rolls never wrap into the room."""

    def grow(carry):
        reach, _ = carry
        grown = reach | (reach << 1) | (reach >> 1) | jnp.roll(reach, 1) | jnp.roll(reach, -1)
        grown = grown & free_rows
        return grown, jnp.any(grown != reach)

    seed = jnp.zeros_like(free_rows).at[start[0]].set(jnp.uint32(1) << start[1].astype(jnp.uint32)) & free_rows
    # the flag starts True but is derived from `seed`, so that under shard_map it varies over
    # devices exactly as the flag `grow` returns does (a constant would not type-check)
    return jax.lax.while_loop(lambda carry: carry[1], grow, (seed, jnp.any(seed != 0)))[0]


def reachable(free: jax.Array, start: jax.Array) -> jax.Array:
    """The (H, W) bool mask of the cells of `free` 4-connected to `start` (the border must not
    be free)."""
    rows = reachable_rows(row_bits(free), start)
    return ((rows[:, None] >> jnp.arange(free.shape[1], dtype=jnp.uint32)) & 1).astype(bool)


# --------------------------------------------------------------------------- layout banks
def _connected(free: np.ndarray) -> bool:
    """Whether all free cells form one 4-connected component."""
    cells = np.argwhere(free)
    if len(cells) == 0:
        return False
    seen = np.zeros_like(free)
    queue = deque([tuple(cells[0])])
    seen[tuple(cells[0])] = True
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
            nr, nc = r + dr, c + dc
            if free[nr, nc] and not seen[nr, nc]:
                seen[nr, nc] = True
                queue.append((nr, nc))
    return bool(seen.sum() == free.sum())


def component(free: np.ndarray, seed: tuple[int, int]) -> np.ndarray:
    """The 4-connected component of `free` that holds `seed`, as a bool mask."""
    seen = np.zeros_like(free)
    seen[seed] = True
    stack = [seed]
    while stack:
        r, c = stack.pop()
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if free[nr, nc] and not seen[nr, nc]:
                seen[nr, nc] = True
                stack.append((nr, nc))
    return seen


def _border(height: int, width: int) -> np.ndarray:
    walls = np.zeros((height, width), bool)
    walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
    return walls


def _rooms(rng: np.random.Generator, height: int, width: int, density: float) -> np.ndarray:
    """Scattered obstacles in the interior, first and last interior columns kept free, connected."""
    for _ in range(_ROOMS_ATTEMPTS):
        walls = _border(height, width)
        inner = rng.random((height - 2, width - 4)) < density
        walls[1:-1, 2:-2] = inner
        if _connected(~walls):
            return walls
    raise ValueError(
        f"no connected 'rooms' layout of {height}x{width} in {_ROOMS_ATTEMPTS} draws at obstacle_density "
        f"{density}; lower obstacle_density"
    )


_ROOMS_ATTEMPTS = 10_000


def _maze(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A perfect maze by randomized depth-first search; corridors on odd coordinates."""
    walls = np.ones((height, width), bool)
    cells_r, cells_c = (height - 1) // 2, (width - 1) // 2
    start = (rng.integers(cells_r), rng.integers(cells_c))
    stack, visited = [start], {start}
    walls[2 * start[0] + 1, 2 * start[1] + 1] = False
    while stack:
        r, c = stack[-1]
        options = [
            (r + dr, c + dc)
            for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1))
            if 0 <= r + dr < cells_r and 0 <= c + dc < cells_c and (r + dr, c + dc) not in visited
        ]
        if not options:
            stack.pop()
            continue
        nr, nc = options[rng.integers(len(options))]
        walls[r + nr + 1, c + nc + 1] = False
        walls[2 * nr + 1, 2 * nc + 1] = False
        visited.add((nr, nc))
        stack.append((nr, nc))
    return walls


@lru_cache(maxsize=16)
def layout_bank(layout: str, height: int, width: int, count: int, seed: int, density: float = 0.25) -> np.ndarray:
    """`count` wall layouts (count, H, W) bool, reproducible from `seed`; cached per argument set."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if layout == "maze" and (height % 2 == 0 or width % 2 == 0):
        raise ValueError(f"maze layouts need odd height and width, got {height}x{width}")
    rng = np.random.default_rng(seed)
    if layout == "open":
        bank = np.broadcast_to(_border(height, width), (count, height, width)).copy()
    elif layout == "rooms":
        bank = np.stack([_rooms(rng, height, width, density) for _ in range(count)])
    else:
        bank = np.stack([_maze(rng, height, width) for _ in range(count)])
    bank.setflags(write=False)
    return bank


# ------------------------------------------------------------------------------ drawing
PALETTE = {
    "floor": (24, 24, 32),
    "wall": (110, 110, 120),
    "agent": (230, 60, 60),
    "coin": (250, 205, 40),
    "exit": (60, 190, 90),
}


def paint(canvas: jax.Array, mask: jax.Array, colour: tuple[int, int, int]) -> jax.Array:
    """Paint the True cells of a (H, W) mask onto a (H, W, 3) canvas."""
    return jnp.where(mask[..., None].astype(bool), jnp.array(colour, jnp.uint8), canvas)


def upscale(image: jax.Array, cell_pixels: int) -> jax.Array:
    """Blow each cell up to a `cell_pixels` square, with a thin dark grid line."""
    big = jnp.repeat(jnp.repeat(image, cell_pixels, axis=0), cell_pixels, axis=1)
    line = (jnp.arange(big.shape[0]) % cell_pixels == 0)[:, None] | (jnp.arange(big.shape[1]) % cell_pixels == 0)[None, :]
    return jnp.where(line[..., None], (big * 0.8).astype(jnp.uint8), big)


def disk_mask(cell_pixels: int) -> np.ndarray:
    """A (p, p) boolean disk, for drawing round objects inside a cell."""
    centre = (cell_pixels - 1) / 2
    yy, xx = np.mgrid[:cell_pixels, :cell_pixels]
    return (yy - centre) ** 2 + (xx - centre) ** 2 <= (cell_pixels * 0.36) ** 2


# ------------------------------------------------------------------ fast cell sampling
class CellTables(NamedTuple):
    """Per-layout lists of cells, padded, so that a uniform number picks a cell in O(1).

    free_cells (N, F, 2), free_count (N,), free_rank (N, H, W): position of a cell in its free
    list; start_cells/exit_cells (N, H, 2) and counts: free cells of the start and exit columns.
    """

    free_cells: np.ndarray
    free_count: np.ndarray
    free_rank: np.ndarray
    start_cells: np.ndarray
    start_count: np.ndarray
    exit_cells: np.ndarray
    exit_count: np.ndarray


def cell_tables(bank: np.ndarray, start_column: int, exit_column: int) -> CellTables:
    """Cell tables of a layout bank, for sampling starts, exits and objects uniformly."""
    count, height, width = bank.shape
    free_cells = np.zeros((count, height * width, 2), np.int32)
    free_rank = np.zeros((count, height, width), np.int32)
    start_cells = np.zeros((count, height, 2), np.int32)
    exit_cells = np.zeros((count, height, 2), np.int32)
    free_count, start_count, exit_count = (np.zeros(count, np.int32) for _ in range(3))
    for i, walls in enumerate(bank):
        cells = np.argwhere(~walls)
        free_cells[i, : len(cells)] = cells
        free_count[i] = len(cells)
        free_rank[i, cells[:, 0], cells[:, 1]] = np.arange(len(cells))
        for column, table, counts in ((start_column, start_cells, start_count), (exit_column, exit_cells, exit_count)):
            rows = np.flatnonzero(~walls[:, column])
            table[i, : len(rows)] = np.stack([rows, np.full_like(rows, column)], -1)
            counts[i] = len(rows)
    return CellTables(free_cells, free_count, free_rank, start_cells, start_count, exit_cells, exit_count)


def pad_cells(lists: list[np.ndarray]) -> tuple[jax.Array, jax.Array]:
    """Lists of cells of different lengths as one padded table (n, longest, 2) int32 (zeros past
    each list's end) and their lengths (n,) int32, the form `pick` draws from."""
    table = np.zeros((len(lists), max(len(cells) for cells in lists), 2), np.int32)
    for i, cells in enumerate(lists):
        table[i, : len(cells)] = cells
    return jnp.asarray(table), jnp.asarray([len(cells) for cells in lists], jnp.int32)


def pick(cells: jax.Array, count: jax.Array, u: jax.Array) -> jax.Array:
    """The cell at a uniform position `u` in [0, 1) of the first `count` entries of `cells`."""
    return cells[jnp.minimum((u * count).astype(jnp.int32), count - 1)]


def distinct_ranks(u: jax.Array, count: int | jax.Array) -> jax.Array:
    """`len(u)` distinct integers, uniform without replacement in [0, count), from uniforms `u`
    (the i-th is uniform over the ranks the earlier ones left free; no per-cell sampling)."""
    chosen = []
    for i in range(u.shape[0]):
        j = jnp.minimum((u[i] * (count - i)).astype(jnp.int32), count - i - 1)
        if chosen:
            for s in jnp.sort(jnp.stack(chosen)):  # ascending: skip over every rank taken
                j = j + (j >= s)
        chosen.append(j)
    return jnp.stack(chosen)


def top_k_cells(scores: jax.Array, k: int, width: int, offset: int = 0) -> jax.Array:
    """The cells (k, 2) int32 of the `k` largest of `scores`, a row-major flat array over a grid
    of `width` columns whose first cell is (offset, offset): distinct cells, uniform when the
    scores are uniforms (masked cells scored below every other are never picked)."""
    cells = jax.lax.top_k(scores, k)[1]
    rows, cols = (cells // width + offset, cells % width + offset) if offset else (cells // width, cells % width)
    return jnp.stack([rows, cols], -1).astype(jnp.int32)


def pick_distinct(tables: CellTables, index: jax.Array, u: jax.Array) -> jax.Array:
    """`len(u)` distinct free cells of layout `index` (k, 2), drawn one after another, each
    uniform over the free cells not drawn before (u in [0, 1), one number per cell)."""
    return tables.free_cells[index, distinct_ranks(u, tables.free_count[index])]


def pick_excluding(tables: CellTables, index: jax.Array, u: jax.Array, first: jax.Array, second: jax.Array) -> jax.Array:
    """A free cell of layout `index`, uniform over those other than the two distinct cells given."""
    ranks = tables.free_rank[index]
    a, b = ranks[first[0], first[1]], ranks[second[0], second[1]]
    low, high = jnp.minimum(a, b), jnp.maximum(a, b)
    j = jnp.minimum((u * (tables.free_count[index] - 2)).astype(jnp.int32), tables.free_count[index] - 3)
    j = j + (j >= low)
    j = j + (j >= high)
    return tables.free_cells[index, j]
