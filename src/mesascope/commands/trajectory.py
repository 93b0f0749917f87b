"""`mesascope trajectory RUN`: each agent's verdict at every saved checkpoint, and whether agents
became competent at a proxy before they became aligned (subprocess interdependence)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

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
    """Each agent's verdict at every checkpoint the run saved: were agents competent at a proxy
    before they were aligned?

    Goal inference and verdicts at every checkpoint (eval.checkpoints): each agent's verdict
    trajectory, the share of each verdict per checkpoint (95% Wilson intervals), and how many
    agents read as proxy-aligned before any aligned or mixed reading. Read from the run when it
    stored them (eval.trajectory) and no option asks for other settings; otherwise computed from
    the stored parameters."""
    from mesascope.experiments.trajectory import verdict_trajectory
    from mesascope.report.trajectory_section import proxy_first_line, share_rows

    png = png and output_file(png)
    result = load_finished(run_id, db)
    stored = result.trajectory
    if stored is not None and distribution in (None, stored.distribution) and episodes in (None, result.config.get("eval", {}).get("episodes")):
        found = stored
        console.print(f"stored with run {result.run_id}")
    else:
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
    shifts = {record.agent: record.train_shift for record in result.agents}
    for agent, verdicts in zip(found.agents, found.verdicts):
        table.add_row(str(agent), f"{shifts.get(agent, float('nan')):g}", *(text(v) for v in verdicts))
    console.print(table)
    groups = sorted({shifts.get(agent, float("nan")) for agent in found.agents})
    for value in groups:  # agents trained at different shifts are different populations: one table each
        members = found if len(groups) == 1 else found.subset([a for a in found.agents if shifts.get(a) == value])
        where = "" if len(groups) == 1 else f", trained at {result.shift_name} = {value:g}"
        shares = Table(title=f"share of agents per verdict (95% Wilson){where}")
        shares.add_column("verdict")
        for step in found.steps:
            shares.add_column(f"{int(step):,}")
        for category, cells in share_rows(members):
            shares.add_row(category, *cells)
        console.print(shares)
        console.print(proxy_first_line(members))
    if png is not None:
        from mesascope.report.trajectory_plot import trajectory_plot

        png.write_bytes(trajectory_plot(found))
        console.print(f"plot saved to {text(png)}")
