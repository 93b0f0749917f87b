"""The world contract, rerun on worlds with mixed levels (level_mix.mixed; not registered).

The checks are the functions of tests/worlds/test_contract.py, loaded from that file and
collected here with this module's `world` fixture, so a new contract check covers the wrapper
too. Left out: the two checks about registration (name, options, docstring of a registered
world), which a wrapper does not have; test_level_mix.py checks what it delegates instead.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

from mesascope import worlds
from mesascope.experiments.adversarial_bank import build_bank
from mesascope.experiments.level_mix import mixed


def _load_contract():
    path = Path(__file__).resolve().parents[1] / "worlds" / "test_contract.py"
    spec = importlib.util.spec_from_file_location("mesascope_world_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load_contract()
ABOUT_REGISTRATION = {"test_world_metadata", "test_registry_rejects_unknown_names_and_options"}
for _name in dir(contract):
    if _name.startswith("test_") and _name not in ABOUT_REGISTRATION:
        globals()[_name] = getattr(contract, _name)

WRAPPED = [("coin", "adversarial"), ("lamp", "test")]  # both pools; each wrapped world costs ~25 s of the suite


@functools.cache
def _wrapped(name: str, pool: str) -> worlds.World:
    base = worlds.make(name)
    bank = build_bank(base, seed=0, pool_size=64, bank_size=8).levels if pool == "adversarial" else None
    return mixed(base, pool, bank)


@pytest.fixture(params=WRAPPED, ids=[f"{name}+{pool}" for name, pool in WRAPPED], scope="module")
def world(request) -> worlds.World:
    return _wrapped(*request.param)


def test_every_contract_check_is_rerun_here():
    reused = {name for name in dir(contract) if name.startswith("test_")} - ABOUT_REGISTRATION
    assert len(reused) >= 15
    assert reused <= set(globals())
