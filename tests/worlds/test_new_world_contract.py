"""The world contract, rerun on the worked example of docs/new_world.md (a grid world on the
grid-world layer that is not registered), in both views.

The checks are the functions of tests/worlds/test_contract.py, collected here with this
module's `world` fixture; left out are the two checks about registration (the world's name in
the registry, the registry's errors), which need a registered world.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_contract():
    spec = importlib.util.spec_from_file_location("mesascope_world_contract_guide", ROOT / "tests" / "worlds" / "test_contract.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load_contract()
ABOUT_REGISTRATION = {"test_world_metadata", "test_registry_rejects_unknown_names_and_options"}
for _name in dir(contract):
    if _name.startswith("test_") and _name not in ABOUT_REGISTRATION:
        globals()[_name] = getattr(contract, _name)


@functools.cache
def _guide_world(view: str):
    guide = (ROOT / "docs" / "new_world.md").read_text()
    code = re.search(r"```python\n(.*?)```", guide, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "docs/new_world.md", "exec"), namespace)  # our own documentation, not user input
    return namespace["WORLD"](view=view)


@pytest.fixture(params=["global", "egocentric"], scope="module")
def world(request):
    return _guide_world(request.param)


def test_the_guide_world_is_at_most_sixty_lines():
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "new_world.md").read_text(), re.S).group(1)
    assert len(code.rstrip("\n").splitlines()) <= 60
