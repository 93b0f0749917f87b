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


_BUILTIN: set[str] = set()
"""Names of the catalogue's own worlds (`_register_builtin`), not plugins or later registrations."""


def builtin_names() -> list[str]:
    """Names of the worlds that ship with mesascope, sorted (what the golden records and the
    Gymnasium hook's list cover; plugins and later registrations are not among them)."""
    return sorted(name for name in _REGISTRY if name in _BUILTIN)


def canonical(name: str) -> str:
    """`name` with hyphens in its world part read as underscores ('hidden-goal' -> 'hidden_goal');
    a combinator's argument after ':' is kept as written."""
    base, colon, argument = name.partition(":")
    return base.replace("-", "_") + colon + argument


def is_known(name: str) -> bool:
    """Whether `name` names a registered world, either plain or as 'combinator:argument'."""
    base, colon, _ = canonical(name).partition(":")
    return base in _REGISTRY and (not colon or getattr(_REGISTRY[base], "name_argument", None) is not None)


def options(name: str) -> dict[str, Any]:
    """The options a world accepts, with their defaults ('union:a,b' gives the options of 'union',
    with 'a,b' as the default of the option the colon sets)."""
    base, colon, argument = canonical(name).partition(":")
    factory = _factory(base)
    defaults = {
        p.name: p.default
        for p in inspect.signature(factory).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    option = getattr(factory, "name_argument", None)
    if colon and option in defaults:
        defaults[option] = argument
    return defaults


def make(name: str, **kwargs: Any) -> World:
    """Build the world `name` with options `kwargs`; unknown names or options raise ValueError.

    A world whose class sets `name_argument` also takes it after a colon: 'union:coin,corner'
    is `make('union', components='coin,corner')`."""
    name, colon, argument = canonical(name).partition(":")
    factory = _factory(name)
    if colon:
        option = getattr(factory, "name_argument", None)
        if option is None:
            raise ValueError(f"world {name!r} takes no ':' argument; only {sorted(n for n, f in _REGISTRY.items() if getattr(f, 'name_argument', None))} do")
        if option in kwargs:
            raise ValueError(f"{option!r} given both after ':' and as an option of world {name!r}")
        kwargs = {**kwargs, option: argument}
    allowed = options(name)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for world {name!r}; allowed: {sorted(allowed)}")
    return factory(**kwargs)


def declared_options(name: str) -> dict[str, Any]:
    """The options world `name` declares with their allowed values (grid worlds' `Option`s,
    keyed by option name); {} for a world that declares none."""
    declared = getattr(_factory(canonical(name).partition(":")[0]), "options", None)
    return dict(declared) if isinstance(declared, dict) else {}


def _factory(name: str) -> Callable[..., World]:
    if name not in _REGISTRY:
        raise ValueError(f"unknown world {name!r}; registered worlds: {names()}")
    return _REGISTRY[name]


INFRASTRUCTURE = frozenset({"core", "grid", "planning", "registry", "ascii", "gym", "dust_room", "testing", "gridworld", "levels", "declare", "space"})
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
            _BUILTIN.add(world_class.name)


PLUGIN_GROUP = "mesascope.worlds"
"""The entry-point group through which an installed package adds worlds: in its pyproject,
`[project.entry-points."mesascope.worlds"]` then `gem = "mypackage.gem:GemWorld"`."""


def _register_plugins() -> None:
    """Register the worlds installed packages declare under `PLUGIN_GROUP`. A plugin that fails
    to load, or takes a name already registered, is skipped with a warning naming it, so one
    broken package does not take the catalogue down."""
    import warnings
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        if entry.name in _REGISTRY:
            warnings.warn(f"world plugin {entry.name!r} ({entry.value}) skipped: a world of that name is already registered", stacklevel=2)
            continue
        try:
            register(entry.name, entry.load())
        except Exception as error:  # noqa: BLE001 (any failure of a third-party import)
            warnings.warn(f"world plugin {entry.name!r} ({entry.value}) could not be loaded: {type(error).__name__}: {error}", stacklevel=2)


_register_builtin()
_register_plugins()
