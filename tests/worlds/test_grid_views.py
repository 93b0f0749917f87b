"""The egocentric view's helpers agree with the map they stand for, on every agent cell."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.worlds import grid


@pytest.mark.parametrize("shape", [(6, 6), (7, 9)])
def test_plane_cells_cut_like_the_map_they_light_from_every_cell(shape):
    """`egocentric_plane_cells` equals `egocentric_plane` of the map lit at the present cells,
    for the agent on every cell (border cells included, where the window is clamped) and for cells
    anywhere on the grid (border cells, which the view hides, included)."""
    rng = np.random.default_rng(0)
    positions = jnp.asarray(np.indices(shape).reshape(2, -1).T)
    for _ in range(20):
        cells = jnp.asarray(rng.integers(0, np.array(shape), size=(4, 2)))
        present = jnp.asarray(rng.random(4) < 0.7)
        plane = jnp.zeros(shape, jnp.uint8).at[cells[:, 0], cells[:, 1]].max(present.astype(jnp.uint8))
        expected = jax.vmap(lambda position: grid.egocentric_plane(plane, position))(positions)
        got = jax.vmap(lambda position: grid.egocentric_plane_cells(shape, position, cells, present))(positions)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_plane_window_centre_is_the_agent_inside_and_clamped_on_the_border():
    """Inside the interior the window centres on the agent; from the border it sits where
    `lax.dynamic_slice` puts it (a start of -1 wraps to the far end, then is clamped)."""
    shape = (6, 6)
    assert grid.plane_window_centre(shape, jnp.array([2, 3])).tolist() == [2, 3]
    assert grid.plane_window_centre(shape, jnp.array([0, 5])).tolist() == [4, 4]
    assert grid.plane_window_centre(shape, jnp.array([5, 1])).tolist() == [4, 1]


@pytest.mark.parametrize("shape", [(5, 5), (7, 7), (7, 9), (9, 6), (13, 13), (15, 15)])
def test_walls_from_row_bitmasks_are_the_padded_maps_window_from_every_cell(shape):
    """`egocentric_walls_from_rows` gives `egocentric_walls`' bits for random walled rooms, with
    the agent on every cell (border cells included); 15 wide takes the padded map itself."""
    rng = np.random.default_rng(1)
    positions = jnp.asarray(np.indices(shape).reshape(2, -1).T)
    for _ in range(5):
        walls = rng.random(shape) < 0.35
        walls[0], walls[-1], walls[:, 0], walls[:, -1] = True, True, True, True
        walls = jnp.asarray(walls)
        expected = jax.vmap(lambda position: grid.egocentric_walls(walls, position))(positions)
        got = jax.vmap(lambda position: grid.egocentric_walls_from_rows(walls, position))(positions)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
