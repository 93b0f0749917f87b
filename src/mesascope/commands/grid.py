"""`mesascope sweep --grid`: a grid of agents (traced knobs inside one program, static knobs one
program each) trained on a backend, diagnosed and summarised per cell and per knob."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from mesascope.commands.common import console, fail, open_store, progress_reporter, sigterm_as_interrupt, text, training_errors


def run_grid_command(base, axes: list[tuple[str, tuple[str, ...]]], db: Path, force: bool, backend_name: str, address: str | None,
                     workers: int, out: Path | None, table: bool) -> None:
    """Validate the grid, train what is missing on the backend, then print and write its outcomes."""
    from mesascope.experiments.backends import BACKENDS, BackendError, make_backend
    from mesascope.experiments.sweep import Grid, run_grid

    grid = Grid(base, tuple(axes))
    try:
        configs = grid.configs()
    except ValueError as error:
        fail(str(error))
    if backend_name not in BACKENDS:
        fail(f"--backend must be one of {list(BACKENDS)}, got {backend_name!r}")
    if address is not None and backend_name != "ray":
        fail("--address names a Ray cluster; use it with --backend ray")
    try:
        backend = None if backend_name == "local" else make_backend(backend_name, workers, address)
    except BackendError as error:
        fail(str(error))
    labels = [",".join(f"{k}={v}" for k, v in static.items()) for static in grid.static_labels()]

    def announce(i, outcome):
        state = "reused" if outcome.reused else "done"
        console.print(f"{text(labels[i] or grid.base.name)}: run [bold]{outcome.result.run_id}[/] ({state}, {len(outcome.result.agents)} agents)")

    console.print(f"grid: {len(configs)} program(s), {sum(c.num_agents for c in configs)} agents, backend {backend_name}")
    if not any(key in ("train_shift", "train_shifts") for key, _ in axes) and len(base.train_shifts) > 1:
        console.print(text(f"every cell also trains at each training shift {', '.join(f'{v:g}' for v in base.train_shifts)} "
                           "(the preset's train_shifts; --grid train_shift=... or --set train_shifts=... to choose)"))
    with open_store(db) as store, sigterm_as_interrupt(), progress_reporter() as progress:
        with training_errors(db, "interrupted: finished experiments are kept; the same command resumes the grid",
                             "that experiment of the grid is marked failed", "the grid's"):
            try:
                done = run_grid(grid, store, progress, on_run=announce, force=force, backend=backend)
            except BackendError as error:
                fail(f"{error}; finished experiments are stored: the same command trains only the rest")
    folder = db.with_name(f"{db.stem}_artifacts") / "sweeps" / grid.sweep_id()
    _summarise(grid, done.results, labels, out or folder / "report.html", table, folder)
    console.print(f"export its tables: mesascope export {grid.sweep_id()} --db {text(db)} --out DIR")


def _static_numbers(grid) -> list[dict[str, float]]:
    """Static axis values as numbers (a non-numeric axis, e.g. level_mix, by its position)."""
    out = []
    for static in grid.static_labels():
        row = {}
        for key, value in static.items():
            values = dict(grid.static())[key]
            try:
                row[key] = float(value)
            except ValueError:
                row[key] = float(values.index(value))
        out.append(row)
    return out


def _level_draw_note(config) -> str:
    """The evaluation draw every cell share rests on, and how to check a share against another."""
    from mesascope.experiments.evaluate import evaluation_seed

    return (f"Every agent played the same {config.eval.episodes} levels per distribution (level seed {evaluation_seed(config)}); "
            "the intervals count agents and episodes, not that draw. Check a share on another draw without retraining: "
            "the same command with --set eval.level_seed=K (and --set eval.episodes=512).")


def _summarise(grid, results, labels, path: Path, table: bool, manifest_folder: Path) -> None:
    from mesascope.diagnose.grid_outcomes import cell_outcomes, grid_agents, knob_effects
    from mesascope.report.export import write_sweep_manifest
    from mesascope.records.intervals import format_interval, format_number, format_p_value
    from mesascope.records.readings import test_distribution
    from mesascope.report.grid_report import SHOWN_CATEGORIES, write_grid_report

    axes = [("train_shift" if k in ("train_shift", "train_shifts") else k) for k, _ in grid.axes]
    if "train_shift" not in axes:
        axes.append("train_shift")
    agents = grid_agents(results, _static_numbers(grid), axes)
    cells = cell_outcomes(agents, results[0].objectives)
    effects = knob_effects(agents)
    where = test_distribution(results[0])
    effect_table = Table(title=f"P(proxy-aligned) on {where} against each knob (other axes pooled)")
    for column in ("knob", "Kendall τ", "p rising", "p falling", "logistic fit"):
        effect_table.add_column(column)
    for effect in effects:
        tested = bool(np.isfinite(effect.trend.tau))
        effect_table.add_row(effect.knob, format_number(effect.trend.tau, 3), format_p_value(effect.trend.p_increasing, tested),
                             format_p_value(effect.trend.p_decreasing, tested), "fits" if effect.fit.fits else text(effect.fit.reason))
    console.print(effect_table)
    if table:
        cell_table = Table(title=f"cells on {where} (shares: 95% Wilson; normalised returns: 95% bootstrap over agents)")
        objectives = results[0].objectives
        for column in (*axes, "agents", *SHOWN_CATEGORIES, *(name + (" (intended)" if k == 0 else "") for k, name in enumerate(objectives))):
            cell_table.add_column(column)
        for cell in cells:
            cell_table.add_row(*(f"{v:g}" for v in cell.coords.values()), str(cell.agents), *(format_interval(*cell.shares[c]) for c in SHOWN_CATEGORIES),
                               *(format_interval(*cell.returns[name]) for name in objectives))
        console.print(cell_table)
        console.print(_level_draw_note(grid.base))
    title = f"{grid.base.name} over {' × '.join(k for k, _ in grid.axes)}"
    write_grid_report(path, title, list(grid.axes), results, labels, agents, cells, effects)
    write_sweep_manifest(manifest_folder, title, [(label, r.run_id) for label, r in zip(labels, results)], axes, _static_numbers(grid))
    console.print(f"grid report: [bold]{text(Path(path).resolve())}[/]")
