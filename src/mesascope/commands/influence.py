"""`mesascope influence RUN`: which objects move a stored run's agents' decisions, checkpoint by
checkpoint (definitions in `mesascope.diagnose.influence`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import typer

from mesascope.commands.common import DB_OPTION, RUN_ARGUMENT, console, fail, load_finished, output_file, text

DEFAULT_LEVELS = 32
"""Test levels used when recomputing a run whose config skipped influence (influence_levels 0)."""


def recompute(run_dir: Path, result: Any) -> Any:
    """The influence record of a stored run, recomputed from the checkpoints saved in its
    artifact folder `run_dir` (only the final parameters for runs saved before checkpoints)."""
    from mesascope.agents.networks import network_family
    from mesascope.agents.ppo import network_for
    from mesascope.experiments import checkpoints
    from mesascope.experiments.config import from_dict
    from mesascope.experiments.evaluate import evaluate_influence
    from mesascope.worlds import registry

    config = from_dict(result.config)
    if config.eval.influence_levels == 0:
        config = dataclasses.replace(config, eval=dataclasses.replace(config.eval, influence_levels=DEFAULT_LEVELS))
    world = registry.make(config.world, **config.world_options)
    network = network_for(config.ppo, world, network_family(config.agent))
    final_step = config.ppo.num_updates * config.ppo.batch_size
    return evaluate_influence(world, network, checkpoints.load(run_dir, final_step), config)


def influence_table(result: Any) -> Any:
    """A rich table: per training shift value, kind and intervention, the share (mean over
    agents, 95% interval) at every checkpoint."""
    from rich.table import Table

    from mesascope.report import summary

    record = result.influence
    table = Table(title=f"decision influence of run {result.run_id} ({record.levels} {record.distribution} levels, every floor cell)")
    for column in (result.shift_name, "object", "intervention"):
        table.add_column(column)
    for step in record.steps:
        table.add_column(f"{int(step):,} steps", justify="right")
    for value, stats in summary.influence_by_shift(result).items():
        for k, kind in enumerate(record.kinds):
            label = kind if record.pairs[k] else f"{kind} (never present)"
            for i, intervention in enumerate(record.interventions):
                cells = [summary.format_interval(*stats[c, k, i]) for c in range(len(record.steps))]
                table.add_row(summary.format_shift(value), label, intervention, *cells)
    return table


def influence(
    run_id: str = RUN_ARGUMENT,
    db: Path = DB_OPTION,
    png: Optional[Path] = typer.Option(None, "--png", help="Also save the influence-over-training plot to this PNG file."),
    again: bool = typer.Option(False, "--recompute", help="Recompute from the saved checkpoints even if the run recorded influence."),
) -> None:
    """Decision influence of a stored run: which objects move its agents' decisions, checkpoint
    by checkpoint.

    For each training shift value and object kind, the share of test states whose greedy action
    changes when the object is removed or moved, at every saved checkpoint. Runs that recorded
    none are computed from their checkpoints."""
    from mesascope.store.db import Store

    png = png and output_file(png)
    result = load_finished(run_id, db)  # checks every stored file, checkpoints included
    if result.influence is None or again:
        console.print(f"[dim]computing decision influence of run {result.run_id} from its checkpoints...[/]")
        try:
            with Store(db, readonly=True) as store:
                record = recompute(store.run_dir(result.run_id), result)
        except (FileNotFoundError, ValueError) as error:
            fail(str(error))
        result = dataclasses.replace(result, influence=record)
    console.print(influence_table(result))
    if png is not None:
        from mesascope.report.influence_plots import influence_over_training

        png.write_bytes(influence_over_training(result))
        console.print(f"plot saved to {text(png)}")
