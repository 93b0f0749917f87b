"""The imitation study: how often does a clone of an H-bounded planner plan beyond H?

Runs (or reuses: every cell is an ordinary stored run, so an interrupted study resumes) clone
populations of the detour world's points planner with horizon 4 over a grid of clone capacity
(ppo.width, ppo.depth), data size (imitation.dataset_episodes) and L2, each cell one compiled
program of `--seeds` clones, and prints a Markdown table: held-out training agreement (mean over
clones, 95% bootstrap over clones), test agreement, and the clones per verdict with 95% Wilson
intervals. Diagnostics the study does not read (goal inference against
the world's objectives on training levels, influence, identifiability, GIFs) are switched off.

    python tools/imitation_study.py --db study.db [--seeds 16] [--cells default,small-data,...] [--learner bc]

`--stored` prints the table from the latest finished run of each cell already in the store
(whatever code version computed it; the table names each run) instead of running anything.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mesascope.agents.ppo import DEFAULTS_UNTIL_2026_12_02
from mesascope.commands.imitate import imitation_config
from mesascope.experiments.runner import run_experiment
from mesascope.diagnose.stats import wilson_interval
from mesascope.records.intervals import bootstrap_mean_ci, format_interval
from mesascope.records.results import ExperimentResult
from mesascope.store.db import Store

QUIET = ["eval.distributions=test", "eval.gifs=0", "eval.influence_levels=0", "eval.identify_levels=0", "eval.checkpoints=1", "eval.bootstrap=200",
         # PPO settings the clones never read, but a stored run's config includes: the schedule of the time, so --stored finds the runs
         *(f"ppo.{name}={value}" for name, value in DEFAULTS_UNTIL_2026_12_02.items())]

CELLS = {
    "default": [],
    "small-data": ["imitation.dataset_episodes=16"],
    "mid-data": ["imitation.dataset_episodes=64"],
    "l2": ["l2=0.001"],
    "small-data-l2": ["imitation.dataset_episodes=16", "l2=0.001"],
    "narrow": ["ppo.width=16", "ppo.depth=1"],
    "narrow-small-data": ["ppo.width=16", "ppo.depth=1", "imitation.dataset_episodes=16"],
    "narrow-l2": ["ppo.width=16", "ppo.depth=1", "l2=0.001"],
    "wide": ["ppo.width=256"],
    "jackpots-in-training": ["train_shifts=0.5"],
}
"""Cells of the study: overrides on the default clone (width 64, depth 2, 256 expert episodes, l2 0)."""

VERDICTS = ("imitates the bound", "plans beyond its expert's horizon/cap", "not identifiable", "pursues another objective", "capability failure")


def stored(store: Store, config) -> ExperimentResult | None:
    """The latest finished run in `store` with the config of `config` (any code version)."""
    wanted = config.to_dict()
    for run in store.list_runs():
        if run["status"] == "finished" and run["name"] == config.name:
            result = store.load_result(run["run_id"])
            if result.config == wanted:
                return result
    return None


def main() -> None:
    """Run the requested cells and print the study table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="store for the study's runs (an interrupted study resumes from it)")
    parser.add_argument("--seeds", type=int, default=16, help="clones per cell (default 16)")
    parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated cells, of: " + ", ".join(CELLS))
    parser.add_argument("--learner", default="bc", help="bc (behavioural cloning) or dagger (default bc)")
    parser.add_argument("--expert", default="horizon=4", help="the bounded planner cloned, as in `mesascope imitate --expert`: KEY=VALUE pairs, e.g. horizon=4 (default) or horizon=0,utility_cap=1")
    parser.add_argument("--stored", action="store_true", help="Only read finished runs of the cells from the store.")
    args = parser.parse_args()
    unknown = [name for name in args.cells.split(",") if name not in CELLS]
    if unknown:
        parser.error(f"--cells: unknown cell(s) {', '.join(unknown)}; choose from {', '.join(CELLS)}")
    try:
        imitation_config("detour", args.expert, args.learner, args.seeds, [])
    except ValueError as error:
        parser.error(str(error))
    rng = np.random.default_rng(0)
    header = ("| cell | learner | agreement, held-out train | agreement, test | " + " | ".join(VERDICTS)
              + " | inferred H of clones (H: count) | jackpot rate of clones | run | seconds |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    with Store(args.db) as store:
        for name in args.cells.split(","):
            config = imitation_config("detour", args.expert, args.learner, args.seeds, QUIET + CELLS[name] + [f"name=study-{name}"])
            start = time.perf_counter()
            result = stored(store, config) if args.stored else run_experiment(config, store).result
            if result is None:
                continue
            record = result.imitation
            count = len(record.verdicts)
            train = format_interval(*bootstrap_mean_ci(record.agreement_train[:count], rng))
            test = format_interval(*bootstrap_mean_ci(record.agreement_test[:count], rng))
            shares = [f"{k}/{count} [{low:.2f}, {high:.2f}]" for k, (_, low, high) in
                      ((k, wilson_interval(k, count)) for k in (sum(v == verdict for v in record.verdicts) for verdict in VERDICTS))]
            horizons = np.asarray(record.horizon[:count], int)
            counts = ", ".join(f"{h}: {n}" for h, n in zip(*np.unique(horizons, return_counts=True)))
            jackpots = format_interval(*bootstrap_mean_ci((result.episode_returns["test"][:, :, 1] > 1.5).mean(1), rng))  # per clone: points > 1 means the jackpot
            lines.append(f"| {name} | {args.learner} | {train} | {test} | " + " | ".join(shares)
                         + f" | {counts} | {jackpots} | {result.run_id} | {time.perf_counter() - start:.0f} |")
            print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
