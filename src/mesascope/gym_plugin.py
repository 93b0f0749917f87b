"""Register mesascope's worlds with Gymnasium when Gymnasium is imported, with no mesascope import.

Gymnasium 0.29 called every `gymnasium.envs` entry point on import; Gymnasium 1.x dropped that
loader. So the package also ships `mesascope-gymnasium.pth` (written by setup.py), which runs
`install()` at interpreter start. `install()` imports nothing heavy: it puts a finder in front
of `sys.meta_path` that, the first time `gymnasium` is imported, lets the normal import finish
and then calls `register()` (also the `gymnasium.envs` entry point, for Gymnasium < 1.0).

`register()` only writes specs whose entry points are strings, so `import gymnasium` never
imports JAX: the world code loads when an environment is made. This module must import nothing
beyond the standard library (it runs in every interpreter of the environment), which is why the
world names are listed here; a test checks the list against the world registry.

Set MESASCOPE_NO_GYM_PLUGIN=1 to turn the hook off (then `import mesascope.worlds.gym` registers).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
import warnings
from types import ModuleType

WORLDS = ("cleaning", "coin", "coin_colour", "corner", "detour", "hidden_goal", "keys_chests", "lamp", "monsters", "tamper", "union", "vacuum")
"""Every registered world (must equal `mesascope.worlds.names()`; tests/worlds/test_gym_plugin.py checks)."""

ENTRY_POINT = "mesascope.worlds.gym:MesascopeEnv"
VECTOR_ENTRY_POINT = "mesascope.worlds.gym_vector:MesascopeVectorEnv"
OPT_OUT = "MESASCOPE_NO_GYM_PLUGIN"


def env_id(world_name: str) -> str:
    """The Gymnasium id of a world: 'coin' -> 'mesascope/Coin-v0', 'key_door' -> 'mesascope/KeyDoor-v0'."""
    return f"mesascope/{''.join(part.capitalize() for part in world_name.split('_'))}-v0"


def register(names: tuple[str, ...] = WORLDS) -> list[str]:
    """Register `mesascope/<Name>-v0` for each world name (idempotent); return the ids."""
    gymnasium = importlib.import_module("gymnasium")  # already imported whenever this runs
    ids = []
    for name in names:
        identifier = env_id(name)
        if identifier not in gymnasium.registry:
            gymnasium.register(
                id=identifier,
                entry_point=ENTRY_POINT,
                vector_entry_point=VECTOR_ENTRY_POINT,
                kwargs={"world": name},
            )
        ids.append(identifier)
    return ids


def install() -> None:
    """Arrange for mesascope's worlds to be registered once `gymnasium` is imported (idempotent)."""
    if os.environ.get(OPT_OUT):
        return
    if "gymnasium" in sys.modules:
        _register_quietly(sys.modules["gymnasium"])
    elif not any(isinstance(finder, _GymnasiumFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _GymnasiumFinder())


def _register_quietly(gymnasium: ModuleType) -> None:
    """`register()`, unless this Gymnasium loads entry points itself; warns instead of raising,
    so a broken mesascope never breaks `import gymnasium`."""
    registration = getattr(getattr(gymnasium, "envs", None), "registration", None)
    if registration is not None and hasattr(registration, "load_plugin_envs"):
        return  # Gymnasium < 1.0 calls the entry point itself
    try:
        register()
    except Exception as error:  # noqa: BLE001 (never break the user's `import gymnasium`)
        warnings.warn(f"mesascope could not register its Gymnasium environments: {error!r}", RuntimeWarning, stacklevel=2)


class _GymnasiumFinder(importlib.abc.MetaPathFinder):
    """One-shot finder: hands out gymnasium's real spec with a loader that registers after loading."""

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 (importlib's signature)
        """gymnasium's own spec with a registering loader; None for every other module."""
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)  # before searching, so the search below finds the real spec
        spec = importlib.util.find_spec("gymnasium")
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader)
        return spec


class _RegisteringLoader(importlib.abc.Loader):
    """Wraps gymnasium's own loader; after gymnasium's module has run, registers the worlds."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec):  # noqa: ANN001
        """Whatever gymnasium's own loader creates."""
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        """Run gymnasium's module, then register mesascope's worlds in it."""
        self._loader.exec_module(module)
        _register_quietly(module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)  # get_filename, get_resource_reader, ... of the real loader
