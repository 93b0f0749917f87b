"""The PPO trainer as it was before the throughput work of issue 12, loaded from git for benchmarks.

`legacy_make_train` is `make_train` of `LEGACY_COMMIT` (agents/ppo.py with its agents/networks.py),
extracted into a temporary package; it runs on today's worlds, so a comparison measures the
trainer alone.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

LEGACY_COMMIT = "0f567a6"
"""The last commit before the trainer's bootstrap and shared-input changes (2026-11-30)."""

PACKAGE = "mesascope_legacy_ppo"
ROOT = Path(__file__).resolve().parents[1]


@cache
def _module():
    """Extract ppo.py and networks.py of the legacy commit into a package and import it (once)."""
    target = Path(tempfile.mkdtemp(prefix="legacy_ppo_")) / PACKAGE
    target.mkdir()
    (target / "__init__.py").write_text("")
    for name in ("ppo", "networks"):
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{LEGACY_COMMIT}:src/mesascope/agents/{name}.py"],
            check=True, capture_output=True, text=True,
        ).stdout
        (target / f"{name}.py").write_text(text.replace("from mesascope.agents.networks import", f"from {PACKAGE}.networks import"))
    sys.path.insert(0, str(target.parent))
    return importlib.import_module(f"{PACKAGE}.ppo")


def legacy_make_train(config, world):
    """The legacy trainer for `world` (today's `PPOConfig` fields that it knows, its default network)."""
    module = _module()
    known = {name: getattr(config, name) for name in module.PPOConfig.__dataclass_fields__}
    return module.make_train(module.PPOConfig(**known), world)
