"""The world registry: names to constructors, with clear errors for unknown names and options."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from mesascope.worlds.core import World

_REGISTRY: dict[str, Callable[..., World]] = {}


def register(name: str, factory: Callable[..., World]) -> None:
    """Register a world constructor under `name` (its keyword arguments are the world's options)."""
    if name in _REGISTRY:
        raise ValueError(f"world {name!r} is already registered")
    _REGISTRY[name] = factory


def names() -> list[str]:
    """Names of every registered world, sorted."""
    return sorted(_REGISTRY)


def options(name: str) -> dict[str, Any]:
    """The options a world accepts, with their defaults."""
    factory = _factory(name)
    return {
        p.name: p.default
        for p in inspect.signature(factory).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def make(name: str, **kwargs: Any) -> World:
    """Build the world `name` with options `kwargs`; unknown names or options raise ValueError."""
    factory = _factory(name)
    allowed = options(name)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for world {name!r}; allowed: {sorted(allowed)}")
    return factory(**kwargs)


def _factory(name: str) -> Callable[..., World]:
    if name not in _REGISTRY:
        raise ValueError(f"unknown world {name!r}; registered worlds: {names()}")
    return _REGISTRY[name]


INFRASTRUCTURE = frozenset({"core", "grid", "planning", "registry", "ascii", "gym", "dust_room", "testing", "gridworld", "levels"})
"""Modules of `mesascope.worlds` that are machinery, not worlds."""


def _register_builtin() -> None:
    """Register every built-in world: each world module names its class in a `WORLD` attribute,
    so adding a world is adding one file."""
    import importlib
    import pkgutil

    import mesascope.worlds as package

    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module_info.name in INFRASTRUCTURE or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"mesascope.worlds.{module_info.name}")
        world_class = getattr(module, "WORLD", None)
        if world_class is not None:
            register(world_class.name, world_class)


_register_builtin()
