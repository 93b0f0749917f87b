"""The catalogue worlds as they were before the grid-world layer, loaded from git for benchmarks.

`legacy_world(name, **options)` builds the world of that name from the files of
`LEGACY_COMMIT` (the last commit before the layer), extracted into a temporary package whose
imports of sibling world modules point at the extracted copies. They run on today's
`mesascope.worlds.core` and `grid`, so a comparison measures the world files alone.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

LEGACY_COMMIT = "a40f487"
"""The commit that recorded the golden data, before any world moved onto the layer."""

PACKAGE = "mesascope_legacy_worlds"
SIBLINGS = ("dust_room", "tamper")
"""World-side modules that other legacy world modules import."""

ROOT = Path(__file__).resolve().parents[1]


@cache
def _package_dir() -> Path:
    """Extract every legacy world module into a temporary package (once per process)."""
    target = Path(tempfile.mkdtemp(prefix="legacy_worlds_")) / PACKAGE
    target.mkdir()
    (target / "__init__.py").write_text("")
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{LEGACY_COMMIT}:src/mesascope/worlds"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    for name in listing:
        if not name.endswith(".py"):
            continue
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{LEGACY_COMMIT}:src/mesascope/worlds/{name}"],
            check=True, capture_output=True, text=True,
        ).stdout
        for sibling in SIBLINGS:
            text = text.replace(f"from mesascope.worlds.{sibling} import", f"from {PACKAGE}.{sibling} import")
        (target / name).write_text(text)
    sys.path.insert(0, str(target.parent))
    return target


def has_legacy(name: str) -> bool:
    """Whether world `name` existed at `LEGACY_COMMIT` (worlds added later have nothing to compare with)."""
    return (_package_dir() / f"{name}.py").exists()


def legacy_world(name: str, **options):
    """The legacy world `name` (its module name) built with `options`."""
    _package_dir()
    module = importlib.import_module(f"{PACKAGE}.{name}")
    return module.WORLD(**options)
