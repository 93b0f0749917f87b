"""Worlds from installed packages: the `mesascope.worlds` entry-point group registers them; a
plugin that fails to load or clashes with a registered name is skipped with a warning."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from mesascope.worlds import registry


def test_entry_points_register_worlds_and_bad_ones_are_skipped_with_a_warning(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # leave the real registry as it was
    points = [
        EntryPoint("plugged_coin", "mesascope.worlds.coin:CoinWorld", registry.PLUGIN_GROUP),
        EntryPoint("broken", "no_such_package.worlds:Gem", registry.PLUGIN_GROUP),
        EntryPoint("coin", "mesascope.worlds.corner:CornerWorld", registry.PLUGIN_GROUP),
    ]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [p for p in points if p.group == group])
    with pytest.warns(UserWarning) as caught:
        registry._register_plugins()
    messages = [str(w.message) for w in caught]
    assert any("'broken' (no_such_package.worlds:Gem) could not be loaded: ModuleNotFoundError" in m for m in messages)
    assert any("'coin' (mesascope.worlds.corner:CornerWorld) skipped: a world of that name is already registered" in m for m in messages)
    assert registry.is_known("plugged_coin") and registry.make("plugged_coin").objectives == ("coin", "exit")
    assert registry.make("coin").name == "coin"  # the built-in keeps its name
