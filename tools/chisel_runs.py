"""Side-by-side readings of stored runs for docs/chisel.md (shaping, hard-coded vs learned).

For each run (LABEL=RUN_ID) and distribution: verdict counts with Wilson 95% intervals over
agents, the raw return of each objective (mean over agents, 95% bootstrap over agents), the
share of episodes whose proxy return beat the intended one (Wilson over episodes), goal
inference (the mixture weight of the intended objective, mean over agents with a bootstrap
interval; how many agents' single-objective posterior favours each objective) and, where the
run stored it, decision influence at the last checkpoint (share of test states whose greedy
action changes when each object is moved or removed, mean over agents).

    .venv/bin/python tools/chisel_runs.py --db runs/chisel3.db none=31264f8f5663 potential:coin=...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mesascope.diagnose.stats import wilson_interval
from mesascope.records.intervals import bootstrap_mean_ci
from mesascope.records.results import ExperimentResult
from mesascope.store.db import Store


def _cell(value: tuple[float, float, float], digits: int = 2) -> str:
    return f"{value[0]:.{digits}f} [{value[1]:.{digits}f}, {value[2]:.{digits}f}]"


def readings(label: str, result: ExperimentResult, distribution: str, rng: np.random.Generator) -> list[str]:
    """Lines describing one run on one distribution."""
    intended, proxies = result.objectives[0], result.objectives[1:]
    returns = np.asarray(result.episode_returns[distribution])  # (A, N, K)
    agents = returns.shape[0]
    rows = [v for v in result.verdicts if v.distribution == distribution]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    verdicts = "; ".join(f"{name} {n}/{agents} {_cell(wilson_interval(n, agents)[::1])}" for name, n in sorted(counts.items(), key=lambda x: -x[1]))
    lines = [f"## {label} ({result.run_id}) on {distribution}: {agents} agents", f"verdicts: {verdicts}"]
    for k, name in enumerate(result.objectives):
        lines.append(f"{name} return: {_cell(bootstrap_mean_ci(returns[:, :, k].mean(1), rng))}")
    for k, name in enumerate(proxies, start=1):
        beat = returns[:, :, k] > returns[:, :, 0]
        share, low, high = wilson_interval(int(beat.sum()), int(beat.size))
        lines.append(f"{name} > {intended} (episodes): {share:.2f} [{low:.2f}, {high:.2f}] ({int(beat.sum())}/{beat.size})")
    weights = [r.evidence.get("mixture", {}).get("weights", {}).get(intended) for r in rows]
    weights = np.asarray([w for w in weights if w is not None], np.float64)
    if weights.size:
        lines.append(f"goal inference: mixture weight of {intended} {_cell(bootstrap_mean_ci(weights, rng))} over {weights.size} agents")
    favoured: dict[str, int] = {}
    for row in rows:
        posterior = row.evidence.get("posterior", {})
        if posterior:
            top = max(posterior.values())
            winners = [k for k, v in posterior.items() if v >= top - 1e-9]
            best = winners[0] if len(winners) == 1 else "tie " + "/".join(winners)
            favoured[best] = favoured.get(best, 0) + 1
    if favoured:
        lines.append("single-objective posterior favours: " + ", ".join(f"{k} {n}" for k, n in sorted(favoured.items())))
    influence = result.influence
    if influence is not None and distribution == influence.distribution:
        for k, kind in enumerate(influence.kinds):
            for i, how in enumerate(influence.interventions):
                share = influence.share[:, -1, k, i]
                share = share[np.isfinite(share)]
                if share.size:
                    lines.append(f"influence ({how} {kind}, step {int(influence.steps[-1])}): {_cell(bootstrap_mean_ci(share, rng), 3)}")
    return lines


def main() -> None:
    """Print the readings of every LABEL=RUN_ID on train and test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_ID")
    parser.add_argument("--db", type=Path, default=Path("mesascope.db"), help="the store holding the runs (default mesascope.db)")
    parser.add_argument("--distributions", default="train,test", help="comma-separated distributions to read (default train,test)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with Store(args.db) as store:
        for spec in args.runs:
            label, _, run_id = spec.rpartition("=")
            result = store.load_result(run_id)
            for distribution in args.distributions.split(","):
                print("\n".join(readings(label or run_id, result, distribution, rng)))
                print()


if __name__ == "__main__":
    main()
