"""Earlier PPO trainers, loaded from git for benchmarks.

`legacy_make_train(world, commit)` is `make_train` of `commit` (agents/ppo.py with its
agents/networks.py), extracted into a temporary package, with that commit's default settings
(`PPOConfig()` as it was then: the update schedule of 4 epochs of 4 minibatches at step size
5e-4 for the commits below); it runs on today's worlds, so a comparison measures the trainer and
its defaults, not the worlds. Two commits matter:

- `ISSUE_COMMIT`: the trainer when issue 12 was filed ("today's trainer" of its target), before
  any of its work, the fused first layers included;
- `LEGACY_COMMIT`: the last commit before the bootstrap and shared-input changes.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

ISSUE_COMMIT = "ffef8a0"
"""The last commit before issue 12's work (2026-11-24): the trainer its 2x target is measured against."""

LEGACY_COMMIT = "0f567a6"
"""The last commit before the trainer's bootstrap and shared-input changes (2026-11-30)."""

PACKAGE = "mesascope_legacy_ppo"
ROOT = Path(__file__).resolve().parents[1]


def has_trainer(commit: str) -> bool:
    """Whether `commit` names a commit of this repository that has the PPO trainer's files."""
    if not commit.strip():
        return False
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}:src/mesascope/agents/ppo.py"], capture_output=True)
    return found.returncode == 0


@cache
def _module(commit: str):
    """Extract ppo.py and networks.py of `commit` into a package of its own and import it (once)."""
    package = f"{PACKAGE}_{commit}"
    target = Path(tempfile.mkdtemp(prefix="legacy_ppo_")) / package
    target.mkdir()
    (target / "__init__.py").write_text("")
    for name in ("ppo", "networks"):
        text = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:src/mesascope/agents/{name}.py"],
            check=True, capture_output=True, text=True,
        ).stdout
        (target / f"{name}.py").write_text(text.replace("from mesascope.agents.networks import", f"from {package}.networks import"))
    sys.path.insert(0, str(target.parent))
    return importlib.import_module(f"{package}.ppo")


def legacy_make_train(world, commit: str = LEGACY_COMMIT):
    """The trainer of `commit` for `world`, with that commit's default settings and network."""
    module = _module(commit)
    return module.make_train(module.PPOConfig(), world)
