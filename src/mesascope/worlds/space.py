"""The inner state of a grid world as digits of a mixed-radix number, most significant first.

A world declares `space = (("position", Cell()), ("opened", Flags(3)), ...)`; `GridWorld`
enumerates every combination (`enumerate_inner`) and numbers each state (`inner_index`) from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Cell:
    """Digit: the agent's cell, over the whole grid (row-major) or, with `interior`, its interior."""

    interior: bool = False

    def radix(self, size: int) -> int:
        """Number of values of this digit."""
        return (size - 2) ** 2 if self.interior else size * size

    def decode(self, digit: np.ndarray, size: int) -> jax.Array:
        """Cells (n, 2) int32 of digit values."""
        side, offset = (size - 2, 1) if self.interior else (size, 0)
        return jnp.asarray(np.stack([digit // side + offset, digit % side + offset], -1), jnp.int32)

    def encode(self, value: jax.Array, size: int) -> jax.Array:
        """Digit of a cell."""
        side, offset = (size - 2, 1) if self.interior else (size, 0)
        return (value[0] - offset) * side + (value[1] - offset)


@dataclass(frozen=True)
class Flag:
    """Digit: one bool."""

    def radix(self, size: int) -> int:
        """Two values."""
        return 2

    def decode(self, digit: np.ndarray, size: int) -> jax.Array:
        """Bools of digit values."""
        return jnp.asarray(digit, bool)

    def zero(self) -> jax.Array:
        """False."""
        return jnp.zeros((), bool)

    def encode(self, value: jax.Array, size: int) -> jax.Array:
        """0 or 1."""
        return value.astype(jnp.int32)


@dataclass(frozen=True)
class Flags:
    """Digit: `count` bools packed as bits, element i being bit i."""

    count: int

    def radix(self, size: int) -> int:
        """2**count values."""
        return 2**self.count

    def decode(self, digit: np.ndarray, size: int) -> jax.Array:
        """Bool arrays (n, count) of digit values."""
        return jnp.asarray((digit[:, None] >> np.arange(self.count)) & 1, bool)

    def zero(self) -> jax.Array:
        """All False."""
        return jnp.zeros(self.count, bool)

    def encode(self, value: jax.Array, size: int) -> jax.Array:
        """The bits as one number."""
        return jnp.sum(value.astype(jnp.int32) << jnp.arange(self.count))


@dataclass(frozen=True)
class Counter:
    """Digit: an int32 counter in [0, count)."""

    count: int

    def radix(self, size: int) -> int:
        """`count` values."""
        return self.count

    def decode(self, digit: np.ndarray, size: int) -> jax.Array:
        """int32 of digit values."""
        return jnp.asarray(digit, jnp.int32)

    def zero(self) -> jax.Array:
        """0."""
        return jnp.zeros((), jnp.int32)

    def encode(self, value: jax.Array, size: int) -> jax.Array:
        """The counter itself."""
        return value.astype(jnp.int32)


Digit = Cell | Flag | Flags | Counter
"""One digit of an inner-state space."""
