"""Register mesascope's worlds with Gymnasium when Gymnasium is imported, with no mesascope import.

Gymnasium 0.29 called every `gymnasium.envs` entry point on import; Gymnasium 1.x dropped that
loader. So the package also ships `mesascope-gymnasium.pth` (written by setup.py), which runs
`install()` at interpreter start. `install()` imports nothing heavy: it puts a finder in front
of `sys.meta_path` that, the first time `gymnasium` is imported, lets the normal import finish
and then calls mesascope's `gymnasium.envs` entry point (`mesascope.worlds.gym:register_all`).
On Gymnasium versions that still load entry points themselves it does nothing.

Set MESASCOPE_NO_GYM_PLUGIN=1 to turn the hook off (then `import mesascope.worlds.gym` registers).
This module must stay free of imports beyond the standard library: it runs in every interpreter
of the environment mesascope is installed in.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from types import ModuleType

ENTRY_POINT_GROUP = "gymnasium.envs"
ENTRY_POINT_NAME = "mesascope"
OPT_OUT = "MESASCOPE_NO_GYM_PLUGIN"


def install() -> None:
    """Arrange for mesascope's worlds to be registered once `gymnasium` is imported (idempotent)."""
    if os.environ.get(OPT_OUT):
        return
    if "gymnasium" in sys.modules:
        register_with(sys.modules["gymnasium"])
        return
    if not any(isinstance(finder, _GymnasiumFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _GymnasiumFinder())


def register_with(gymnasium: ModuleType) -> None:
    """Call mesascope's `gymnasium.envs` entry point unless this Gymnasium loads entry points itself.

    A failure warns instead of raising, so a broken mesascope never breaks `import gymnasium`."""
    registration = getattr(getattr(gymnasium, "envs", None), "registration", None)
    if registration is not None and hasattr(registration, "load_plugin_envs"):
        return  # Gymnasium < 1.0 already ran the entry point
    try:
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=ENTRY_POINT_NAME):
            entry.load()()
    except Exception as error:  # noqa: BLE001 (never break the user's `import gymnasium`)
        warnings.warn(
            f"mesascope could not register its Gymnasium environments ({error!r}); "
            "`import mesascope.worlds.gym` shows the full error",
            RuntimeWarning,
            stacklevel=2,
        )


class _GymnasiumFinder(importlib.abc.MetaPathFinder):
    """One-shot finder: hands out gymnasium's real spec with a loader that registers after loading."""

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 (importlib's signature)
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
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        register_with(module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)  # get_filename, get_resource_reader, ... of the real loader
