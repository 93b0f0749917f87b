"""`mesascope sweep`: one experiment per value of a config key (or planners per value of a
planning knob), sweep-level verdicts, and a sweep report."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from mesascope.commands.common import DB_OPTION, console, fail, open_store, output_file, progress_reporter, sigterm_as_interrupt, text, training_errors
from mesascope.commands.settings import settings_help, statistic_settings
from mesascope.diagnose.sweep_verdicts import SweepThresholds

DIRECTION_HELP = (
    "Read larger swept values as LESS capacity or compute (e.g. temperature, l2): the sweep "
    "verdicts then test trends along the reversed dial."
)


def sweep(
    target: str = typer.Argument(..., help="A preset or world name (trained agents), or a world name with --planner."),
    over: Optional[str] = typer.Option(None, "--over", help="KEY=V1,V2,...: one experiment per value of one config key, e.g. ppo.width=16,32,64; with --planner one of horizon, temperature, gamma."),
    grid: list[str] = typer.Option([], "--grid", help="KEY=V1,V2,... (repeatable): a grid axis. Traced knobs (train_shift, l2, l1, ppo.learning_rate, ppo.entropy_coef, time_penalty, channel_penalty) vary inside one compiled program; other keys (ppo.width, ppo.depth, ppo.thinking_steps, ppo.total_steps, world options) give one program per combination. See `mesascope knobs`."),
    backend: str = typer.Option("local", "--backend", help="Where grid experiments train: local (this process), processes (a local pool), ray (the optional extra)."),
    address: Optional[str] = typer.Option(None, "--address", help="With --backend ray: an existing cluster ('auto' for the one this machine is in); default a local Ray."),
    workers: int = typer.Option(0, "--workers", min=0, max=1024, help="Processes (or Ray CPUs for a local Ray) to train on; 0: one per core."),
    table: bool = typer.Option(False, "--table", help="With --grid: print every cell's verdict shares and returns."),
    planner: Optional[str] = typer.Option(None, "--planner", help="Sweep exact planners for this objective instead of training agents (no training, seconds)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Agents per training shift value (per swept value)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Environment steps per agent (ppo.total_steps); trained agents only."),
    assignments: list[str] = typer.Option([], "--set", help="Override any other config key of every run (repeatable); trained agents only."),
    descending: bool = typer.Option(False, "--descending", help=DIRECTION_HELP),
    db: Path = DB_OPTION,
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the sweep's HTML report (default: <store artifacts>/sweeps/<id>/report.html)."),
    force: bool = typer.Option(False, "--force", help="Redo finished runs of the sweep."),
    verdict_settings: list[str] = typer.Option([], "--sweep-set", help=settings_help(SweepThresholds, "sweep verdicts of an --over sweep")),
) -> None:
    """Train agents over a grid of knobs (or one axis, or a preset) and ask how pseudo-alignment
    changes along them.

    A grid (`--grid`, repeatable, or a preset such as `coin-biases`) reports every cell's verdict
    shares with Wilson intervals and a trend test per knob. A one-axis sweep (`--over`) also reads
    approximate alignment (misalignment shrinking with capacity) and suboptimality alignment
    (aligned behaviour turning to the proxy as compute grows), with the numbers and thresholds
    each verdict rests on."""
    from mesascope.experiments.sweep import parse_axis, parse_over
    from mesascope.experiments import presets

    thresholds = statistic_settings(SweepThresholds, verdict_settings, "--sweep-set")
    out = out and output_file(out, "report.html")
    if target in presets.GRID_PRESETS and over is None and planner is None:
        preset_axes = list(presets.GRID_PRESETS[target][1])
        grid = [f"{k}={','.join(v)}" for k, v in preset_axes if not any(g.split("=", 1)[0].strip() == k for g in grid)] + list(grid)
    if grid:
        if over is not None or planner is not None:
            fail("--grid replaces --over (a one-axis grid is --grid KEY=...), and --planner sweeps take --over")
        if verdict_settings:
            fail("--sweep-set sets the sweep verdicts of --over sweeps; a --grid sweep reports trend tests per knob instead")
        try:
            axes = [parse_axis(g) for g in grid]
            base = presets.get(target)
            extra = [f"seeds={seeds}"] * (seeds is not None) + [f"ppo.total_steps={steps}"] * (steps is not None)
            from mesascope.experiments import config as config_module

            base = config_module.apply_overrides(base, extra + list(assignments))
        except ValueError as error:
            fail(str(error))
        from mesascope.commands.grid import run_grid_command

        run_grid_command(base, axes, db, force, backend, address, workers, out, table)
        return
    if over is None:
        fail("give the axes to sweep: --grid KEY=V1,V2,... (repeatable) or --over KEY=V1,V2,...; or name a grid preset: " + ", ".join(presets.GRID_PRESETS))
    if backend != "local" or address is not None:
        fail("--backend and --address apply to --grid sweeps")
    try:
        key, values = parse_over(over)
    except ValueError as error:
        fail(str(error))
    if planner is not None:
        if assignments or steps is not None:
            fail("--set and --steps configure training; a --planner sweep trains nothing")
        results, labels, sweep_id = _planner_results(target, planner, key, values, seeds)
        title = f"{target}: {planner} planners over {key}"
    else:
        results, labels, sweep_id = _trained_results(target, key, values, seeds, steps, assignments, db, force)
        title = f"{results[0].name.split('[')[0]} over {key}"
    folder = db.with_name(f"{db.stem}_artifacts") / "sweeps" / sweep_id
    _finish(title, key, labels, results, descending, out or folder / "report.html", thresholds)
    if planner is None:  # trained runs are stored, so the sweep can be exported by its id
        from mesascope.report.export import write_sweep_manifest

        write_sweep_manifest(folder, title, [(f"{key}={label}", r.run_id) for label, r in zip(labels, results)])
        console.print(f"export its tables: mesascope export {sweep_id} --db {text(db)} --out DIR")


def _trained_results(target, key, values, seeds, steps, assignments, db, force):
    """Validate the whole sweep, then run (or reuse) each experiment with a progress bar."""
    from mesascope.experiments import config as config_module
    from mesascope.experiments import presets
    from mesascope.experiments.sweep import Sweep, run_sweep

    try:
        base = presets.get(target)
        extra = [f"seeds={seeds}"] * (seeds is not None) + [f"ppo.total_steps={steps}"] * (steps is not None)
        base = config_module.apply_overrides(base, extra + list(assignments))
        plan = Sweep(base, key, values)
        plan.configs()
    except ValueError as error:
        fail(str(error))

    def announce(i, outcome):
        state = "reused" if outcome.reused else f"trained in {sum(outcome.result.timings.values()):.0f}s"
        console.print(f"{text(key)} = {text(values[i])}: run [bold]{outcome.result.run_id}[/] ({state})")

    with open_store(db) as store, sigterm_as_interrupt(), progress_reporter() as progress:
        with training_errors(db, "interrupted: finished runs are kept; the same command resumes the sweep",
                             "that run of the sweep is marked failed", "the sweep's"):
            done = run_sweep(plan, store, progress, on_run=announce, force=force)
    return done.results, list(values), plan.sweep_id()


def _planner_results(world, objective, key, values, seeds):
    """Diagnose planner populations along the knob."""
    import hashlib

    from mesascope.experiments.planner_sweep import PlannerSweep, run_planner_sweep

    try:
        numbers = tuple(float(v) for v in values)
    except ValueError:
        fail(f"planner knob values must be numbers, got {list(values)}")
    if seeds is not None and not 1 <= seeds <= 4096:
        fail(f"--seeds must be in [1, 4096], got {seeds}")
    plan = PlannerSweep(world=world, objective=objective, knob=key, values=numbers, **({"seeds": seeds} if seeds else {}))
    try:
        plan.validate()
    except ValueError as error:
        fail(str(error))
    with console.status(text(f"diagnosing {objective} planners over {key} = {', '.join(values)}")):
        results = run_planner_sweep(plan)
    sweep_id = "planner-" + hashlib.sha256(repr(plan).encode()).hexdigest()[:8]
    return results, list(values), sweep_id


def _finish(title, key, labels, results, descending, path, thresholds: SweepThresholds) -> None:
    """Sweep verdicts (when the values are numbers), a terminal table and the HTML report."""
    from mesascope.diagnose.sweep_verdicts import decide_sweep, sweep_agents
    from mesascope.report.sweep_report import write_sweep_report

    try:
        numbers = [float(v) for v in labels]
    except ValueError:
        numbers = None
    verdicts, note = None, ""
    if numbers is not None:
        dial = [-v for v in numbers] if descending else numbers
        verdicts = decide_sweep(sweep_agents(results, dial), thresholds)
        note = f"Trends are tested along {key} {'reversed (larger values = less capacity or compute)' if descending else 'as given (larger values = more capacity or compute)'}."
    _print_runs(key, labels, results)
    if verdicts:
        _print_verdicts(verdicts, results[0].shift_name)
        console.print(f"[dim]sweep verdict thresholds: {', '.join(f'{k} {v:g}' for k, v in dataclasses.asdict(thresholds).items())}[/]")
    else:
        console.print(f"[dim]{text(key)} takes non-numeric values, so no trend verdicts; compare the runs in the report.[/]")
    no_verdict = f"{key} takes non-numeric values, so the trend verdicts do not apply; compare the runs below."
    write_sweep_report(path, title, key, labels, results, verdicts, note, no_verdict)
    console.print(f"sweep report: [bold]{text(Path(path).resolve())}[/]")


def _print_runs(key, labels, results) -> None:
    from rich.table import Table

    from mesascope.report import summary

    from mesascope.report.sweep_report import half_aligned_dose

    table = Table(title="runs of the sweep")
    doses = any(len(summary.shift_values(r)) > 1 for r in results)
    for column in (text(key), "run", "verdicts on test", f"{results[0].objectives[0]} (intended), normalised") + (("dose for half robustly aligned",) if doses else ()):
        table.add_column(column)
    for label, result in zip(labels, results):
        test = summary.test_distribution(result)
        counts: dict[str, int] = {}
        for row in summary.verdict_by_agent(result, test).values():
            counts[row.verdict] = counts.get(row.verdict, 0) + 1
        intended = summary.bootstrap_ci(summary.agent_normalised(result, test)[:, 0])
        cells = [text(label), result.run_id, ", ".join(f"{c} {v}" for v, c in counts.items()), summary.format_interval(*intended)]
        table.add_row(*cells, *([half_aligned_dose(result)] if doses else []))
    console.print(table)


def _print_verdicts(verdicts, shift_name) -> None:
    from rich.table import Table

    table = Table(title="sweep verdicts")
    for column in (f"trained at {shift_name}", "verdict", "holds", "why"):
        table.add_column(column)
    for shift, decided in verdicts.items():
        for verdict in decided:
            table.add_row(f"{shift:g}", verdict.name, "[bold red]yes[/]" if verdict.holds else "no", verdict.reason)
    console.print(table)
