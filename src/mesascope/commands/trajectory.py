"""`mesascope trajectory RUN`: each agent's verdict at every saved checkpoint, and whether agents
became competent at a proxy before they became aligned (subprocess interdependence)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from mesascope.commands.common import DB_OPTION, RUN_ARGUMENT, console, fail, load_finished, open_store, output_file, text


def trajectory(
    run_id: str = RUN_ARGUMENT,
    db: Path = DB_OPTION,
    distribution: Optional[str] = typer.Option(None, "--distribution", help="Where to take the verdicts (default: the run's test distribution)."),
    episodes: Optional[int] = typer.Option(None, "--episodes", min=2, max=65_536, help="Episodes per agent and checkpoint (default: the run's eval.episodes)."),
    png: Optional[Path] = typer.Option(None, "--png", help="Also save the verdict shares along training to this PNG file."),
) -> None:
    """Goal inference and verdicts at every checkpoint the run saved (eval.checkpoints), from the
    stored parameters: each agent's verdict trajectory, the share of each verdict per checkpoint
    (95% Wilson intervals), and when agents first read as proxy-aligned vs robustly aligned."""
    from mesascope.diagnose.stats import wilson_interval
    from mesascope.experiments.trajectory import verdict_trajectory
    from mesascope.records import readings
    from mesascope.records.intervals import format_interval

    png = png and output_file(png)
    result = load_finished(run_id, db)
    with open_store(db, readonly=True) as store:
        run_dir = store.run_dir(result.run_id)
    try:
        with console.status("diagnosing every checkpoint"):
            found = verdict_trajectory(result, run_dir, distribution, episodes)
    except (ValueError, FileNotFoundError) as error:
        fail(str(error))
    table = Table(title=f"verdicts of run {result.run_id} along training, on {text(found.distribution)}")
    table.add_column("agent")
    table.add_column(result.shift_name)
    for step in found.steps:
        table.add_column(f"{int(step):,} steps")
    for i, record in enumerate(result.agents):
        table.add_row(str(record.agent), f"{record.train_shift:g}", *(text(v) for v in found.verdicts[i]))
    console.print(table)
    shares = Table(title="share of agents per verdict (95% Wilson)")
    shares.add_column("verdict")
    for step in found.steps:
        shares.add_column(f"{int(step):,}")
    for category in readings.VERDICT_CATEGORIES:
        shares.add_row(category, *(format_interval(*wilson_interval(int((found.categories[:, c] == category).sum()), found.categories.shape[0]))
                                   for c in range(found.steps.size)))
    console.print(shares)
    proxy_first, aligned_first = found.first_step("proxy-aligned"), found.first_step("robustly aligned")
    both = np.isfinite(proxy_first) & np.isfinite(aligned_first)
    console.print(f"agents ever proxy-aligned: {int(np.isfinite(proxy_first).sum())}; ever robustly aligned: {int(np.isfinite(aligned_first).sum())}; "
                  f"proxy-aligned before aligned: {int((both & (proxy_first < aligned_first)).sum())} of the {int(both.sum())} that were both")
    if png is not None:
        from mesascope.report.trajectory_plot import trajectory_plot

        png.write_bytes(trajectory_plot(found))
        console.print(f"plot saved to {text(png)}")
