"""`mesascope imitate WORLD --expert horizon=4,utility_cap=1 --learner bc|dagger`: clone a bounded
planner and ask what each clone plans for.

Every run is an ordinary stored experiment (agent family `bc` or `dagger`), so it is reused when
finished, redone when interrupted, and shown by `mesascope report`. `--grid KEY=V1,V2` runs one
experiment per value (a sweep: finished values are reused, so an interrupted grid resumes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mesascope.commands.common import DB_OPTION, console, fail, open_store, progress_reporter, sigterm_as_interrupt, text, training_errors

EXPERT_HELP = "The expert as KEY=VALUE pairs separated by commas: objective, horizon (0: whole episode), gamma, temperature, utility_cap (0: none)."


def expert_overrides(spec: str) -> list[str]:
    """`'horizon=4,utility_cap=1'` -> `['expert.horizon=4', 'expert.utility_cap=1']`; ValueError for a
    pair that is not KEY=VALUE."""
    overrides = []
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        if "=" not in pair:
            raise ValueError(f"--expert: {pair!r} is not KEY=VALUE; keys: objective, horizon, gamma, temperature, utility_cap")
        key, value = (x.strip() for x in pair.split("=", 1))
        overrides.append(f"expert.{key}={value}")
    return overrides


def imitation_config(world: str, expert: str, learner: str, seeds: Optional[int], assignments: list[str]):
    """The validated experiment config of an imitation run (training at the world's train shift)."""
    from mesascope.agents.imitation import LEARNERS
    from mesascope.experiments import config as config_module
    from mesascope.worlds import registry

    if learner not in LEARNERS:  # `agent` would also take ppo or recurrent, which imitate nothing
        raise ValueError(f"--learner must be one of {list(LEARNERS)}, got {learner!r}")
    for assignment in assignments:
        if assignment.partition("=")[0].strip() == "agent":  # would train PPO or a recurrent agent under an imitation name
            raise ValueError(f"--set agent=... is not for imitate: choose the learner with --learner, one of {list(LEARNERS)}")
    if world not in registry.names():
        raise ValueError(f"world must be one of {registry.names()}, got {world!r}")
    shift = registry.make(world).distributions["train"].shift
    base = config_module.ExperimentConfig(name=f"imitate-{world}-{learner}", world=world, train_shifts=(float(shift),))
    extra = [f"agent={learner}"] + [f"seeds={seeds}"] * (seeds is not None) + expert_overrides(expert)
    return config_module.apply_overrides(base, extra + list(assignments))


def imitate(
    world: str = typer.Argument(..., help="A registered world name (see `mesascope list`)."),
    expert: str = typer.Option("horizon=4", "--expert", help=EXPERT_HELP),
    learner: str = typer.Option("bc", "--learner", help="Imitation learner: bc (behavioural cloning) or dagger."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Clones trained (one compiled program)."),
    grid: Optional[str] = typer.Option(None, "--grid", help="KEY=V1,V2,...: one run per value of a config key, e.g. l2=0,1e-3."),
    assignments: list[str] = typer.Option([], "--set", help="Override any config key, e.g. --set imitation.dataset_episodes=64 --set ppo.width=32."),
    db: Path = DB_OPTION,
    force: bool = typer.Option(False, "--force", help="Redo finished runs."),
) -> None:
    """Clone a bounded planner (behavioural cloning or DAgger) and ask what each clone plans for."""
    from mesascope.experiments.runner import run_experiment
    from mesascope.experiments.sweep import Sweep, parse_over
    from mesascope.report.terminal import print_summary

    try:
        config = imitation_config(world, expert, learner, seeds, assignments)
        if grid is not None and not grid.strip():
            raise ValueError("--grid needs KEY=V1,V2,..., e.g. l2=0,1e-3 (got an empty value)")
        if grid is not None and grid.partition("=")[0].strip() == "agent":  # as --set agent: PPO under an imitation name
            raise ValueError("--grid agent=... is not for imitate: run one imitate per learner (--learner bc, --learner dagger)")
        configs = Sweep(config, *parse_over(grid)).configs() if grid else [config]  # validates every value before any work
    except ValueError as error:
        fail(str(error))
    with open_store(db) as store, sigterm_as_interrupt(), progress_reporter() as progress:
        with training_errors(db, "interrupted: finished runs are kept; the same command resumes", "the run is marked failed", "the run's"):
            for run in configs:
                outcome = run_experiment(run, store, progress, force=force)
                print_summary(outcome.result, console)
                state = "reused" if outcome.reused else f"computed in {sum(outcome.result.timings.values()):.0f}s"
                console.print(f"run [bold]{outcome.result.run_id}[/] ({state}); report: [bold]{text(outcome.report_path.resolve())}[/]")
