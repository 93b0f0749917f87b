"""`mesascope meta RUN --predicate NAME`: the predicate C(π, x) of bad behaviour on a stored run's
held-out levels (per component task for a union) and, for trials of several episodes, return by
episode index against the oracle (definitions in `diagnose.predicates`, `diagnose.in_context`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from mesascope.commands.common import DB_OPTION, RUN_ARGUMENT, console, fail, load_finished
from mesascope.diagnose import predicates
from mesascope.records.intervals import format_interval


def check_options(predicate: str, threshold: float, agent_share: float, episodes: Optional[int]) -> None:
    """Refuse bad options before any work, naming the option and its allowed values."""
    if predicate not in predicates.PREDICATES:
        fail(f"--predicate: unknown predicate {predicate!r}; allowed: {', '.join(sorted(predicates.PREDICATES))}")
    if not 0.0 <= threshold <= 1.0:
        fail(f"--threshold must be in [0, 1], got {threshold}")
    if not 0.0 <= agent_share < 1.0:
        fail(f"--agent-share must be in [0, 1), got {agent_share}")
    if episodes is not None and not 1 <= episodes <= 1000:
        fail(f"--trial-episodes (trial length) must be in [1, 1000], got {episodes}")


def rates_table(result: Any, rates: dict, threshold: float, agent_share: float, held_out_of=lambda distribution, shift: True) -> Any:
    """A rich table of C per distribution, level group and training shift; `held_out_of(distribution,
    shift)` says whether those levels are held out from agents trained at that shift."""
    from rich.table import Table

    name = next(iter(rates.values())).predicate if rates else ""
    table = Table(title=f"C = {name} on run {result.run_id}: {predicates.get(name).description} (threshold {threshold:g}); an agent shows C above a rate of {agent_share:g}")
    for column in ("distribution", "levels", f"trained at {result.shift_name}", "agents showing C (Wilson 95%)",
                   "mean episode rate (bootstrap 95% over agents × episodes)", "agent rates (bootstrap 95% over episodes)"):
        table.add_column(column)
    for (distribution, group, shift), r in rates.items():
        agents = f"{int(r.shows.sum())}/{int((r.defined > 0).sum())} = " + format_interval(r.share, r.share_low, r.share_high)
        spread = ", ".join(f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in list(zip(r.rates, r.rate_low, r.rate_high))[:4]) + (" ..." if len(r.rates) > 4 else "")
        trained = f"{shift:g}" + ("" if held_out_of(distribution, shift) else " (not held out)")
        table.add_row(distribution, group, trained, agents, format_interval(r.mean_rate, r.mean_low, r.mean_high) if (r.defined > 0).any() else "n/a", spread)
    return table


def curve_table(result: Any, studies: list) -> Any:
    """A rich table of intended return by episode index of the trial, with the oracle's."""
    from rich.table import Table

    episodes = len(studies[0].curve.mean)
    table = Table(title=f"intended return by episode of a {episodes}-episode trial (mean over agents, bootstrap 95%), run {result.run_id}")
    for column in ("distribution", *(f"episode {e + 1}" for e in range(episodes)), "oracle", "gap closed in context"):
        table.add_column(column)
    for s in studies:
        c = s.curve
        cells = [format_interval(m, lo, hi) for m, lo, hi in zip(c.mean, c.low, c.high)]
        table.add_row(s.distribution, *cells, f"{c.oracle:.2f}", format_interval(c.closed_mean, c.closed_low, c.closed_high))
    return table


def stored_curve_table(result: Any) -> Any:
    """A rich table of normalised return by episode of the trial for every objective, from the
    run's stored trials (the numbers of the report's meta-learning section), or None."""
    from rich.table import Table

    from mesascope.report.meta_section import RESAMPLES, curve_rows, in_trial_curves

    rows = curve_rows(in_trial_curves(result, np.random.default_rng(int(result.config.get("seed", 0)))))
    if not rows:
        return None
    table = Table(title=f"normalised return by episode of the trial, every objective, from the stored evaluation trials of run {result.run_id} "
                        f"(0 random, 1 oracle; mean over agents and levels, two-way bootstrap 95%, {RESAMPLES} resamples)")
    for column in ("distribution", "objective", *(f"episode {e + 1}" for e in range(len(rows[0]["episodes"]))), "gap closed in context"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["distribution"], row["objective"], *row["episodes"], row["closed"])
    return table


def meta(
    run_id: str = RUN_ARGUMENT,
    predicate: str = typer.Option("proxy_on_heldout", "--predicate", help=f"The predicate C: one of {', '.join(sorted(predicates.PREDICATES))}."),
    threshold: float = typer.Option(0.5, "--threshold", help="Normalised-return threshold the predicate reads (0 random, 1 optimal)."),
    agent_share: float = typer.Option(0.5, "--agent-share", help="An agent shows C when C holds on more than this share of its episodes."),
    episodes: Optional[int] = typer.Option(None, "--trial-episodes", help="Episodes per trial for the in-trial curve rolled afresh against the oracle (default: the run's trial_episodes; 1 skips it; the stored trials' curve is printed either way)."),
    db: Path = DB_OPTION,
) -> None:
    """The predicate C(π, x) on a stored run's evaluated levels, per training shift and per
    component task of a union, and the in-trial learning curve against the oracle planner.

    Levels are held out from agents trained at another shift (the test distribution, for agents
    trained at the run's training shift); rows where agents were trained at the distribution's own
    shift are marked "not held out"."""
    check_options(predicate, threshold, agent_share, episodes)
    result = load_finished(run_id, db)
    from mesascope.agents.networks import network_family
    from mesascope.agents.ppo import network_for
    from mesascope.experiments import checkpoints, meta as analyses
    from mesascope.experiments.config import from_dict
    from mesascope.store.db import Store
    from mesascope.worlds import registry

    config = from_dict(result.config)
    world = registry.make(config.world, **config.world_options)
    shifts = np.array([record.train_shift for record in result.agents], float)
    rates = analyses.predicate_rates(world, config, result.episode_normalised, predicate, threshold, agent_share, shifts)
    console.print(rates_table(result, rates, threshold, agent_share, lambda d, s: analyses.held_out(world, d, s)))
    if any(not analyses.held_out(world, d, s) for d, _, s in rates):
        console.print(f"[yellow]some agents were trained at the shift of a distribution evaluated here: for them those levels "
                      f"are the training distribution, not held out (marked above)[/]")
    stored = stored_curve_table(result)
    if stored is not None:
        console.print(stored)
    trial = config.trial_episodes if episodes is None else episodes
    if trial > 1:
        network = network_for(config.ppo, world, network_family(config.agent))
        with Store(db, readonly=True) as store:
            params = checkpoints.load(store.run_dir(result.run_id), config.ppo.num_updates * config.ppo.batch_size).params[-1]
        studies = [analyses.trial_study(world, network, params, config, name, trial) for name in config.eval.distributions]
        console.print(curve_table(result, studies))
