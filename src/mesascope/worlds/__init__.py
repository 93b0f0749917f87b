"""Worlds: functional, jittable gridworlds whose every step is scored under every objective."""

from mesascope.worlds.core import Distribution, State, Timestep, World
from mesascope.worlds.registry import make, names, options, register

__all__ = ["Distribution", "State", "Timestep", "World", "make", "names", "options", "register"]
