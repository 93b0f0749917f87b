"""What every CLI command shares: the console, the error exit, progress bars, the store option."""

from __future__ import annotations

import os
import signal
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from mesascope.records.results import ExperimentResult
    from mesascope.store.db import Store

console = Console()
"""The console every command prints to."""

DB_OPTION = typer.Option(Path("mesascope.db"), "--db", envvar="MESASCOPE_DB", help="SQLite store of runs; artifacts go to <stem>_artifacts/ beside it.")
"""The `--db` option of every command that reads or writes the store."""


RUN_ARGUMENT = typer.Argument("latest", help="A run id, a unique prefix of one, or 'latest'.")
"""The run argument of every command that reads one finished run."""


def text(value: Any) -> str:
    """User-controlled text (names, paths, values) made safe to print: never read as markup."""
    return escape(str(value))


@contextmanager
def open_store(db: Path, readonly: bool = False) -> Iterator[Store]:
    """The store at `db` (read-only stores are opened without ever writing); exits with a clear
    error when it is missing (for reading), not a mesascope store, or cannot be opened."""
    from mesascope.store.db import Store, StoreError, open_for_reading

    if readonly and not db.exists():
        fail(f"no store at {db} (run an experiment first, or pass --db)")
    try:
        store = open_for_reading(db) if readonly else Store(db)
    except StoreError as error:
        fail(str(error))
    for run_id in store.recovered:
        console.print(f"note: run {run_id} was put back as it was before a --force redo that was killed outright", markup=False)
    with store:
        try:
            yield store
        except sqlite3.DatabaseError as error:  # a damaged file reads as a store until a page is needed
            damaged = "malformed" in str(error) or "not a database" in str(error)
            fail(f"the store {db} cannot be read: {error}" + ("; restore it from a copy, or pass another --db" if damaged else ""), code=1)


def load_finished(run_id: str, db: Path) -> ExperimentResult:
    """The finished run `run_id` (an id, a unique prefix or 'latest') from the store at `db`,
    every stored file checked against its hash; exits with a clear error when there is no store
    or no such intact finished run."""
    from mesascope.store.db import StoreError

    with open_store(db, readonly=True) as store:
        try:
            return store.load_result(store.resolve(run_id))
        except (StoreError, LookupError) as error:
            fail(str(error))


def output_file(path: Path, default_name: str | None = None) -> Path:
    """Where to write an output file the user named: with `default_name`, a folder means that
    file inside it. Exits with a clear error (before any work) when the name is empty, the
    folder does not exist or cannot be written, or the path is a folder."""
    if not path.name and default_name is None:  # '' arrives as Path('.')
        fail(f"{str(path)!r} is not a file name; give one, e.g. plot.png")
    if path.is_dir():
        if default_name is None:
            fail(f"{path} is a folder; give a file name, e.g. {path / 'plot.png'}")
        path = path / default_name
    if not path.parent.is_dir():
        fail(f"cannot write {path}: the folder {path.parent} does not exist (create it first)")
    try:  # permissions alone do not tell (root, read-only mounts): try to create a file there
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".mesascope-probe-"):
            pass
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")
    if path.exists() and not os.access(path, os.W_OK):
        fail(f"cannot write {path}: the file is read-only")
    return path


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error (escaped: never read as markup) and exit with `code` (2: bad input)."""
    console.print(f"[bold red]error:[/] {text(message)}")
    raise typer.Exit(code=code)


@contextmanager
def training_errors(db: Path, interrupted: str, marked_failed: str, files_of: str) -> Iterator[None]:
    """Turn what can stop a run or a sweep into a clean exit: Ctrl-C (code 130, printing
    `interrupted`), a run held by another live process, training that diverged (`marked_failed`
    says which run is now failed), unwritable files (`files_of` says whose) or an unwritable
    store (code 1)."""

    from mesascope.experiments.runner import TrainingDiverged
    from mesascope.store.db import RunInProgressError

    try:
        yield
    except KeyboardInterrupt:
        console.print(f"[yellow]{interrupted}[/]")
        raise typer.Exit(code=130)
    except RunInProgressError as error:
        fail(str(error), code=1)
    except TrainingDiverged as error:
        fail(f"{error}; {marked_failed}", code=1)
    except OSError as error:
        fail(f"cannot write {files_of} files: {error}", code=1)
    except sqlite3.Error as error:  # e.g. locked by another writer for longer than 30 s
        fail(f"the store {db} cannot be written: {error}", code=1)


_interrupted = threading.Event()
"""Set by the signal handler of `sigterm_as_interrupt`; read by `raise_if_interrupted`."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM like Ctrl-C while the block runs, so a terminated run is marked failed
    (and redone next time) instead of being left 'running'.

    Python runs a signal handler wherever the main thread is, and a KeyboardInterrupt raised
    inside a callback whose exceptions Python ignores (JAX's garbage-collection callback) is
    lost. So the handler also records the signal, and `raise_if_interrupted`, which the progress
    display calls at every step, raises it again."""

    def interrupt(signum: int, frame: Any) -> None:
        _interrupted.set()
        raise KeyboardInterrupt

    _interrupted.clear()
    try:
        previous = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a signal arrived inside `sigterm_as_interrupt` (it may have
    been swallowed where it was first raised)."""
    if _interrupted.is_set():
        raise KeyboardInterrupt


def print_phase(phase: str) -> None:
    """Print the phase a long command enters (dim), first raising a recorded interrupt."""
    raise_if_interrupted()
    console.print(f"[dim]{text(phase)}[/]")


@contextmanager
def progress_reporter() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress display and the callback `(phase, done, total)` that drives it; a phase
    with total 0 is shown as done at once."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            raise_if_interrupted()
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total or 1)
            bar.update(tasks[phase], completed=done if total else 1)

        yield progress


def run_and_print(config: Any, db: Path, force: bool, trained_by: str | None = None) -> None:
    """Run (or reuse) the experiment `config` in the store at `db` with a progress bar (from the
    parameters of run `trained_by` when given), then print its summary, timings and report path;
    failures become clear errors."""
    from mesascope.experiments.runner import run_experiment
    from mesascope.report.terminal import print_summary

    with open_store(db) as store, sigterm_as_interrupt(), progress_reporter() as progress:
        interrupted = "interrupted: the run is marked failed and will be redone next time"
        if force:
            interrupted += " (a finished run being redone is kept as it was)"
        with training_errors(db, interrupted, "the run is marked failed", "the run's"):
            outcome = run_experiment(config, store, progress, force=force, trained_by=trained_by)
    if outcome.reused:
        console.print(f"[dim]run {outcome.result.run_id} was already finished: reusing it (rerun with --force to redo it)[/]")
    if outcome.redone and outcome.redone != "--force":
        console.print(f"[yellow]the finished run was damaged, so it was redone: {text(outcome.redone)}[/]")
    print_summary(outcome.result, console)
    timings = ", ".join(f"{k} {v:.0f}s" for k, v in outcome.result.timings.items())
    console.print(f"run id [bold]{outcome.result.run_id}[/] ({timings})")
    console.print(f"report: [bold]{text(outcome.report_path.resolve())}[/]")
