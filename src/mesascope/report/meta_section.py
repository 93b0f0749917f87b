"""The report's meta-learning section: the union's composition, the agent family and trial
length, and the predicate C(π, x) on every evaluated distribution (P(C) over agents with Wilson
intervals), computed from the stored per-episode normalised returns."""

from __future__ import annotations

from typing import Any

import numpy as np

from mesascope.diagnose import predicates
from mesascope.records.intervals import format_interval
from mesascope.records.results import ExperimentResult
from mesascope.worlds import registry

THRESHOLD = 0.5
"""Normalised-return threshold the report's predicates read (`mesascope meta --threshold` varies it)."""
AGENT_SHARE = 0.5
"""An agent shows C when C holds on more than this share of its episodes."""


def meta_context(result: ExperimentResult) -> dict[str, Any] | None:
    """The section's content, or None for runs that are neither unions nor recurrent agents."""
    config = result.config
    agent, trial = config.get("agent", "ppo"), int(config.get("trial_episodes", 1))
    union = str(result.world).startswith("union")
    if not union and agent != "recurrent" and trial == 1:
        return None
    composition = ""
    if union:
        world = registry.make(result.world, **config.get("world_options", {}))
        composition = world.describe().split("## Composition", 1)[-1].strip()
    rng = np.random.default_rng(int(config.get("seed", 0)))
    rows = []
    for name in sorted(predicates.PREDICATES):
        for distribution, normalised in result.episode_normalised.items():
            r = predicates.evaluate(predicates.get(name), normalised, THRESHOLD, AGENT_SHARE, rng, 500)
            counted = int((r.defined > 0).sum())
            rows.append({"predicate": name, "distribution": distribution, "agents": f"{int(r.shows.sum())}/{counted}",
                         "share": format_interval(r.share, r.share_low, r.share_high),
                         "rate": f"{float(np.nanmean(r.rates)):.2f}" if counted else "n/a"})
    return {"agent": agent, "trial_episodes": trial, "composition": composition, "rows": rows, "threshold": THRESHOLD, "agent_share": AGENT_SHARE,
            "descriptions": {name: p.description for name, p in predicates.PREDICATES.items()}}
