"""Levels drawn as ASCII art, for scripted tests and hand-made probe levels.

    art = '''
        #######
        #A...$#
        #######
    '''
    masks = parse(art, {"#": "wall", "A": "agent_start", "$": ("coin", "exit"), ".": None})
    masks["wall"]          # (3, 7) bool
    cell(masks["coin"])    # int32 [1, 5]

Every row must have the same width after common indentation is removed; blank leading and
trailing lines are ignored. A character maps to one name, to several names (an object on top of
another, like a coin lying on the exit), or to None (floor). Characters missing from the legend
are an error, so a typo in a level never silently becomes floor.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np

Legend = Mapping[str, "str | tuple[str, ...] | None"]


def parse(art: str, legend: Legend) -> dict[str, np.ndarray]:
    """One (H, W) bool mask per name in `legend`, True where the art shows that name."""
    rows = [line.rstrip() for line in textwrap.dedent(art).splitlines()]
    while rows and not rows[0]:
        rows.pop(0)
    while rows and not rows[-1]:
        rows.pop()
    if not rows:
        raise ValueError("the art is empty")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(f"every row of the art must have the same width, got widths {sorted(widths)}")
    names = sorted({name for value in legend.values() for name in _names(value)})
    masks = {name: np.zeros((len(rows), len(rows[0])), bool) for name in names}
    for r, row in enumerate(rows):
        for c, char in enumerate(row):
            if char not in legend:
                raise ValueError(f"character {char!r} at row {r}, column {c} is not in the legend {sorted(legend)}")
            for name in _names(legend[char]):
                masks[name][r, c] = True
    return masks


def cell(mask: np.ndarray) -> np.ndarray:
    """The (row, col) int32 position of the single True cell of `mask`."""
    cells = np.argwhere(mask)
    if len(cells) != 1:
        raise ValueError(f"expected exactly one marked cell, found {len(cells)}")
    return cells[0].astype(np.int32)


def draw(masks: Mapping[str, np.ndarray], legend: Legend, floor: str = ".") -> str:
    """The inverse of `parse`, for readable failure messages: later legend entries win a cell."""
    shape = next(iter(masks.values())).shape
    canvas = np.full(shape, floor)
    for char, value in legend.items():
        names = _names(value)
        if names:
            canvas[np.logical_and.reduce([masks[name] for name in names])] = char
    return "\n".join("".join(row) for row in canvas)


def _names(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
