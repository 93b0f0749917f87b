"""What every CLI command shares: the console, the error exit, progress bars, the store option."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from mesascope.records.results import ExperimentResult

console = Console()
"""The console every command prints to."""

DB_OPTION = typer.Option(Path("mesascope.db"), "--db", help="SQLite store of runs; artifacts go to <stem>_artifacts/ beside it.")
"""The `--db` option of every command that reads or writes the store."""


RUN_ARGUMENT = typer.Argument("latest", help="A run id, a unique prefix of one, or 'latest'.")
"""The run argument of every command that reads one finished run."""


def load_finished(run_id: str, db: Path) -> ExperimentResult:
    """The finished run `run_id` (an id, a unique prefix or 'latest') from the store at `db`;
    exits with a clear error when there is no store or no such finished run."""
    from mesascope.store.db import Store, StoreError

    if not db.exists():
        fail(f"no store at {db} (run an experiment first, or pass --db)")
    with Store(db) as store:
        try:
            return store.load_result(store.resolve(run_id))
        except (StoreError, LookupError) as error:
            fail(str(error))


def fail(message: str) -> NoReturn:
    """Print an error and exit with status 2 (bad input), before any work starts."""
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


@contextmanager
def progress_reporter() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress display and the callback `(phase, done, total)` that drives it; a phase
    with total 0 is shown as done at once."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total or 1)
            bar.update(tasks[phase], completed=done if total else 1)

        yield progress
