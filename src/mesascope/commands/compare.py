"""`mesascope compare WORLD --agents ...`: agent groups of different kinds (PPO on any objective,
exact planners, the learned-reward-model planner) evaluated on the same levels with the same
goal inference and verdicts; one table per distribution and one plot."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from mesascope.commands.common import DB_OPTION, console, fail, open_store, output_file, print_phase, sigterm_as_interrupt, text, training_errors


def _cell(value: tuple[float, ...]) -> str:
    return f"{value[0]:.2f} [{value[1]:.2f}, {value[2]:.2f}]"


def compare(
    world: str = typer.Argument(..., help="A registered world name."),
    agents: str = typer.Option(..., "--agents", help="Comma-separated groups: ppo, ppo:OBJECTIVE, planner:OBJECTIVE, grader-planner."),
    seeds: int = typer.Option(16, "--seeds", help="Agents per learned group (PPO, grader-planner)."),
    steps: int = typer.Option(20_000, "--steps", help="Environment steps per PPO agent; also the grader-planner's labelled steps unless --labels."),
    labels: Optional[int] = typer.Option(None, "--labels", help="Labelled steps per grader of the grader-planner (default: --steps)."),
    train_shift: Optional[float] = typer.Option(None, "--train-shift", help="Shift dial of the training levels (default: the world's train distribution)."),
    episodes: int = typer.Option(128, "--episodes", help="Evaluation episodes (one per level) per agent and distribution."),
    seed: int = typer.Option(0, "--seed", help="Base random seed (same levels for every group)."),
    grader_batch: int = typer.Option(0, "--grader-batch", help="Labelled steps per Adam step of the grader-planner's grader (0: full batch)."),
    grader_steps: int = typer.Option(400, "--grader-steps", help="Adam steps of the grader-planner's grader."),
    db: Path = DB_OPTION,
    png: Optional[Path] = typer.Option(None, "--png", help="Also save the comparison plot to this PNG file."),
) -> None:
    """Compare agent groups side by side on the world's distributions (e.g. tampering:
    `mesascope compare tamper --agents planner:register,ppo:register,ppo`)."""
    from mesascope.experiments.compare import CompareConfig, check, parse_agents, run_compare
    from mesascope.experiments.config import ConfigError
    from mesascope.report.compare import compare_plot, summarise
    from mesascope.worlds import registry

    try:
        if world not in registry.names():
            raise ValueError(f"world must be one of {registry.names()}, got {world!r}")
        config = CompareConfig(world, tuple(parse_agents(agents, registry.make(world))), seeds, steps, train_shift, episodes, labels, seed,
                               grader_batch=grader_batch, grader_steps=grader_steps)
        check(config)
    except (ConfigError, ValueError) as error:
        fail(str(error))
    png = png and output_file(png)
    with open_store(db) as store, sigterm_as_interrupt():
        with training_errors(db, "interrupted: finished groups are kept and reused next time", "the run is marked failed", "the comparison's"):
            results = run_compare(config, store, print_phase)
    first = next(iter(results.values()))
    for distribution in first.episode_returns:
        summaries = summarise(results, distribution, seed)
        table = Table(title=f"{world} on {distribution}: {len(first.episode_returns[distribution][0])} levels shared by every group",
                      caption="returns: mean over agents [95% bootstrap over agents]; proxy > intended: share of episodes [95%: bootstrap over agents and levels together, at least Wilson's over episodes]")
        table.add_column("group", no_wrap=True)
        table.add_column("agents", justify="right")
        table.add_column("verdicts")
        for k, name in enumerate(first.objectives):
            table.add_column(f"{name} return" + (" (intended)" if k == 0 else ""))
        for name in first.objectives[1:]:
            table.add_column(f"{name} > {first.objectives[0]}")
        for s in summaries:
            verdicts = ", ".join(f"{v} {n}" for v, n in sorted(s.verdicts.items()))
            wins = [f"{w[2]:.2f} [{w[3]:.2f}, {w[4]:.2f}] ({w[0]}/{w[1]})" for w in s.proxy_wins.values()]
            table.add_row(s.label, str(s.agents), verdicts, *[_cell(s.returns[n]) for n in first.objectives], *wins)
        console.print(table)
    console.print("runs: " + ", ".join(f"{label} {result.run_id}" for label, result in results.items()))
    if png is not None:
        test = "test" if "test" in first.episode_returns else next(iter(first.episode_returns))
        png.write_bytes(compare_plot(summarise(results, test, seed), first.objectives, f"{world} on {test} levels"))
        console.print(f"plot saved to {text(png)}")
