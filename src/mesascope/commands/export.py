"""`mesascope export RUN|SWEEP --format csv|parquet|json --out DIR`: a stored run, or every run
of a sweep, as tidy tables that pandas loads as they are (see `mesascope.report.export`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from mesascope.commands.common import DB_OPTION, console, fail, open_store  # fail escapes its message: sweep names hold brackets


def export(
    target: str = typer.Argument(
        "latest", help="A run id, a unique prefix of one, 'latest', or a sweep: the id in its report's path (sweeps/<id>/), its base name, or <base>[<key>] when it names several."
    ),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, json (an array of records) or parquet (needs the export extra: pandas, pyarrow)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write <table>.<format> files into (created if missing)."),
    db: Path = DB_OPTION,
) -> None:
    """Export a run or a sweep as tidy tables: runs, agents, returns, episodes, inferences, verdicts (and sweep_cells)."""
    from mesascope.report import export as tables_of
    from mesascope.store.db import StoreError

    try:
        tables_of.check_format(fmt)
    except tables_of.ExportError as error:
        fail(str(error))
    if not db.exists():
        fail(f"no store at {db} (run an experiment first, or pass --db)")
    with open_store(db) as store:  # writable: an older store is migrated before it is read
        try:
            run_id = store.resolve(target)
            cells = None
        except StoreError as run_error:
            try:
                cells = tables_of.find_sweep_by_id(store, target)
                by_id = bool(cells)
                cells = cells or tables_of.find_sweep(store, target)
            except tables_of.ExportError as error:
                fail(str(error))
            if not cells:
                sweeps = tables_of.sweep_names(store)
                fail(f"{run_error}; and no finished sweep is named {target!r} (sweeps: {', '.join(sweeps) or 'none'})")
        try:
            tables_of.prepare_out_dir(out)
        except tables_of.ExportError as error:
            fail(str(error))
        if cells is None:
            try:
                result = store.load_result(run_id)
            except StoreError as error:
                fail(str(error))
            tables, what = tables_of.run_tables(result), f"run {run_id}"
        else:
            tables = tables_of.sweep_tables(cells)
            if by_id:
                grid_rows = tables_of.grid_cell_rows(store, target, cells)
                if grid_rows:
                    tables["grid_cells"] = grid_rows
            what = f"sweep {cells[0].result.name.split('[')[0]}[{cells[0].key}] ({len(cells)} run{'s' * (len(cells) != 1)})"
    paths = tables_of.write_tables(tables, out, fmt)
    console.print(escape(f"exported {what} to {out}/:"))
    for path in paths:
        console.print(f"  {path.name}: {len(tables[path.stem])} rows")
