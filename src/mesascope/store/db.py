"""The SQLite store: runs, their curves, evaluations, goal inference, verdicts and artifacts.

One file (default `mesascope.db`) in WAL mode with a versioned schema (`schema.sql`), and an
artifact folder beside it (`<db stem>_artifacts/<run_id>/`) for per-episode arrays
(safetensors), parameters, checkpoints and rollout GIFs. A run goes `begin_run` ->
`finish_run` (or `mark_failed`); `finish_run` writes the files first and then every row, the
hash of every file of the run, and the 'finished' flag in one transaction, so a crash never
leaves a run that reads as finished, and `load_result` refuses any file that changed since.

A running run carries a lease (`store.lease`): the owner's pid and host and a heartbeat. A
second `begin_run` of the same run refuses while the owner is alive (`RunInProgressError`) and
takes over only from a dead one. A file that is not a mesascope store of a schema version this
code knows is refused before anything is written to it; older stores are migrated in place
without losing data; `readonly=True` opens a store without ever writing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import numbers
import operator
import os
import re
import shutil
import sqlite3
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mesascope.records.imitation import ImitationRecord
from mesascope.records.trajectory import TrajectoryRecord
from mesascope.records.trials import TrialRecord
from mesascope.records.results import (
    AgentRecord,
    EvaluationRow,
    ExperimentResult,
    InferenceRow,
    IdentifiabilityRecord,
    InfluenceRecord,
    VerdictRow,
)
from mesascope.store import artifacts as art
from mesascope.store import backup, lease

SCHEMA_VERSION = 3
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE runs ADD COLUMN owner_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN owner_host TEXT",
        "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT",
    ),
    2: (
        "ALTER TABLE runs ADD COLUMN training_id TEXT",
        "ALTER TABLE agents ADD COLUMN knobs_json TEXT NOT NULL DEFAULT '{}'",
    ),
}
"""Statements taking a store from version v to v + 1; they only add, never drop."""
SQLITE_HEADER = b"SQLite format 3\x00"
STATUSES = ("running", "finished", "failed")

# Tables holding one dataclass row per record, each named after its ExperimentResult attribute,
# with columns named after the fields (dict fields are stored as JSON in `<field>_json`).
ROW_TABLES: dict[str, type] = {
    "agents": AgentRecord,
    "evaluations": EvaluationRow,
    "inferences": InferenceRow,
    "verdicts": VerdictRow,
}

# Run ids name artifact folders, so they must be safe path components.
_RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
OPTIONAL_RECORDS: dict[str, Any] = {"influence": InfluenceRecord, "identifiability": IdentifiabilityRecord, "imitation": ImitationRecord,
                                     "trajectory": TrajectoryRecord, "trials": TrialRecord}
"""Result fields stored as one safetensors artifact each, named after the field; a run stored
before a field existed has no such artifact and loads it as None."""

_MAX_LISTED = 10


class StoreError(Exception):
    """Base class of the store's errors."""


class SchemaVersionError(StoreError):
    """The database file has a schema version this code does not understand."""


class StoreNeedsMigrationError(StoreError):
    """A run of a store of an older schema, opened read-only, cannot be loaded: that needs a
    migration first, which a read-only store never writes (`open_for_reading` migrates a store
    whose file is writable)."""


class UnknownRunError(StoreError, LookupError):
    """No run has the given id (or no run matches the given prefix)."""


class RunStatusError(StoreError):
    """The run exists but its status does not allow the operation."""


class RunInProgressError(RunStatusError):
    """Another live process is computing the run."""


def run_id_for(config: Mapping[str, Any], code_version: str) -> str:
    """The run id of a config and code version: the first 12 hex characters of the SHA-256 of
    their canonical JSON (sorted keys, compact separators)."""
    try:
        payload = art.dumps_json({"code_version": code_version, "config": config}, canonical=True)
    except (TypeError, ValueError) as err:
        raise TypeError(f"config is not JSON-serialisable: {err}") from err
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def _now() -> str:
    return lease.now()


def _schema_sql() -> str:
    return resources.files("mesascope.store").joinpath("schema.sql").read_text(encoding="utf-8")


# --- converting dataclass fields to and from SQLite values -------------------------------------


def _columns(cls: type) -> list[str]:
    return [
        f"{f.name}_json" if str(f.type).startswith("dict") else f.name
        for f in dataclasses.fields(cls)
    ]


def _to_sql(value: Any, ftype: str, where: str) -> Any:
    if ftype == "int":
        if isinstance(value, (float, np.floating)):
            raise TypeError(f"{where} must be an integer, got {value!r}")
        try:
            return operator.index(value)
        except TypeError:
            raise TypeError(f"{where} must be an integer, got {type(value).__name__}") from None
    if ftype == "float":
        if not isinstance(value, numbers.Real):
            raise TypeError(f"{where} must be a real number, got {type(value).__name__}")
        return float(value)  # NaN binds as NULL; _from_sql turns it back
    if ftype == "str":
        if not isinstance(value, str):
            raise TypeError(f"{where} must be a string, got {type(value).__name__}")
        return value
    if ftype.startswith("dict"):
        if not isinstance(value, Mapping):
            raise TypeError(f"{where} must be a dict, got {type(value).__name__}")
        try:
            return art.dumps_json(dict(value))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{where} is not JSON-serialisable: {err}") from err
    raise TypeError(f"{where}: no SQLite mapping for field type {ftype!r}")


def _from_sql(value: Any, ftype: str) -> Any:
    if ftype == "float":
        return float("nan") if value is None else float(value)
    if ftype.startswith("dict"):
        return json.loads(value)
    return value


def _row_values(row: Any, cls: type, where: str) -> tuple[Any, ...]:
    if not isinstance(row, cls):
        raise TypeError(f"{where} must be a {cls.__name__}, got {type(row).__name__}")
    return tuple(
        _to_sql(getattr(row, f.name), str(f.type), f"{where}.{f.name}")
        for f in dataclasses.fields(cls)
    )


def _float_dict(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be a dict of name -> float, got {type(value).__name__}")
    return {
        _to_sql(k, "str", f"{where} key"): _to_sql(v, "float", f"{where}[{k!r}]")
        for k, v in value.items()
    }


def _real_array(value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where} must be a real numeric array, got dtype {arr.dtype}")
    return arr


# --- the store ---------------------------------------------------------------------------------


@dataclasses.dataclass
class _Prepared:
    """A result checked and converted to SQLite rows, before anything is written."""

    rows: dict[str, list[tuple[Any, ...]]]
    curve_steps: np.ndarray
    curves: dict[str, np.ndarray]
    run_columns: dict[str, Any]


class Store:
    """A mesascope store: an SQLite file plus an artifact folder.

    Args:
        path: the database file (created with the current schema if absent).
        artifact_root: folder for artifact files; default `<db stem>_artifacts/` beside the
            database (`mesascope.db` -> `mesascope_artifacts/`).

    Use as a context manager, or call `close()`. One process should write at a time; readers
    may share the file (WAL mode).
    """

    def __init__(self, path: str | Path, artifact_root: Path | None = None, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if not self.path.name:  # '', '.' or '/': no file name to put the artifact folder beside
            raise StoreError(f"{str(path)!r} is not a store file; pass --db FILE (e.g. mesascope.db)")
        self.artifact_root = (
            Path(artifact_root)
            if artifact_root is not None
            else self.path.with_name(f"{self.path.stem}_artifacts")
        )
        self._conn: sqlite3.Connection | None = None
        self.recovered: list[str] = []  # runs put back on opening (a --force redo killed outright)
        self._check_file()
        if not readonly and self.artifact_root.exists() and not self.artifact_root.is_dir():
            raise StoreError(f"{self.artifact_root} (where the store keeps run files) is a file, not a folder; move it away")
        try:
            self._conn = self._connect()
            version = self._read_version()  # refuses foreign and unknown files before any write
            self.schema_version = SCHEMA_VERSION if version is None else version
            if not readonly:
                self._conn.execute("PRAGMA foreign_keys=ON")
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._create_or_migrate(version)
                self.recovered = self.recover_set_aside()
            elif version is None:
                raise StoreError(f"{self.path} holds no mesascope store yet (nothing to read)")
        except sqlite3.DatabaseError as err:
            self.close()
            raise StoreError(f"cannot open {self.path} as a mesascope store: {err}") from err
        except BaseException:
            self.close()
            raise

    def _check_file(self) -> None:
        """Refuse a path that cannot be a store (a folder, a non-SQLite file, a missing file to
        read) and create the parent folder of a new one, with clean errors."""
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a store file; pass --db FILE")
        if self.path.exists():
            try:
                with open(self.path, "rb") as f:
                    header = f.read(len(SQLITE_HEADER))
            except OSError as err:
                raise StoreError(f"cannot read {self.path}: {err.strerror}") from err
            if header and header != SQLITE_HEADER:
                raise StoreError(f"{self.path} is not an SQLite database, so not a mesascope store; refusing to touch it")
            if not self.readonly and not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
                raise StoreError(
                    f"{self.path} (or its folder) is read-only: run, demo and sweep need a "
                    "writable store; runs, report, dose, scatter and influence can read it"
                )
        elif self.readonly:
            raise StoreError(f"no store at {self.path}")
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"cannot create a store at {self.path}: {err.strerror}") from err

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) below.
        if not self.readonly:
            return sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        uri = "file:" + urllib.parse.quote(str(self.path.resolve()))
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=30.0)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            # A WAL store in a folder we cannot write has no -shm file to share: read it as an
            # immutable snapshot instead.
            conn.close()
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)

    def _read_version(self) -> int | None:
        """The store's schema version (None for an empty file), refusing anything else."""
        conn = self.conn
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" not in tables:
            if tables:
                raise StoreError(
                    f"{self.path} is an SQLite database but not a mesascope store "
                    f"(no schema_version table; it has tables {sorted(tables)}); refusing to touch it"
                )
            return None
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
        if len(versions) != 1:
            raise SchemaVersionError(
                f"{self.path}: schema_version should hold one row, found {versions}"
            )
        version = versions[0]
        if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
            hint = (
                "it was written by a newer mesascope; upgrade mesascope to open it"
                if isinstance(version, int) and version > SCHEMA_VERSION
                else "no migration to the current schema exists"
            )
            raise SchemaVersionError(
                f"{self.path} has schema version {version!r}, but this mesascope understands "
                f"versions 1 to {SCHEMA_VERSION}: {hint}"
            )
        return version

    def _create_or_migrate(self, version: int | None) -> None:
        conn = self.conn
        if version is None:
            try:
                conn.executescript(_schema_sql())
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return
        if version == SCHEMA_VERSION:
            return
        with self._transaction() as conn:  # re-read under the write lock: another may migrate
            current = conn.execute("SELECT version FROM schema_version").fetchone()[0]
            for step in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute("UPDATE schema_version SET version=?", (SCHEMA_VERSION,))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        """The open SQLite connection (for read-only queries by reports)."""
        if self._conn is None:
            raise StoreError(f"store {self.path} is closed")
        return self._conn

    @contextlib.contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute(f"BEGIN {mode}")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # --- looking runs up ----------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        """The artifact folder of a run (`<artifact_root>/<run_id>`); may not exist yet."""
        _check_run_id(run_id)
        return self.artifact_root / run_id

    def status(self, run_id: str) -> str | None:
        """The status of a run ('running', 'finished' or 'failed'), or None if unknown."""
        row = self.conn.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else row[0]

    def list_runs(self) -> list[dict[str, Any]]:
        """All runs, newest first: dicts with run_id, name, world, status, created_at and
        finished_at."""
        cur = self.conn.execute(
            "SELECT run_id, name, world, status, created_at, finished_at FROM runs "
            "ORDER BY created_at DESC, rowid DESC"
        )
        keys = [d[0] for d in cur.description]
        return [dict(zip(keys, row)) for row in cur]

    def _known_ids(self) -> str:
        ids = [r[0] for r in self.conn.execute(
            "SELECT run_id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (_MAX_LISTED + 1,),
        )]
        if not ids:
            return f"the store {self.path} holds no runs"
        total = self.conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        more = f" (and {total - _MAX_LISTED} more)" if total > _MAX_LISTED else ""
        return "known run ids, newest first: " + ", ".join(ids[:_MAX_LISTED]) + more

    def _unknown(self, run_id: str) -> UnknownRunError:
        return UnknownRunError(f"unknown run id {run_id!r}; {self._known_ids()}")

    def resolve(self, prefix: str) -> str:
        """The full run id for a unique prefix of one, or for 'latest' (the most recently
        finished run). Raises UnknownRunError when nothing or more than one run matches."""
        if prefix == "latest":
            row = self.conn.execute(
                "SELECT run_id FROM runs WHERE status='finished' "
                "ORDER BY finished_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise UnknownRunError(f"no finished run for 'latest'; {self._known_ids()}")
            return row[0]
        if not prefix:
            raise UnknownRunError("empty run id prefix")
        matches = [r[0] for r in self.conn.execute(
            "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? ORDER BY run_id",
            (len(prefix), prefix),
        )]
        if prefix in matches:
            return prefix
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownRunError(f"no run id starts with {prefix!r}; {self._known_ids()}")
        shown = ", ".join(matches[:_MAX_LISTED]) + (" ..." if len(matches) > _MAX_LISTED else "")
        raise UnknownRunError(f"run id prefix {prefix!r} is ambiguous: it matches {shown}")

    # --- writing runs -------------------------------------------------------------------------

    def begin_run(
        self,
        run_id: str,
        name: str,
        world: str,
        config: Mapping[str, Any],
        code_version: str,
        replace_finished: bool = False,
        training_id: str | None = None,
    ) -> None:
        """Register a run as 'running', owned by this process (see `store.lease`); `training_id`
        names what determines its trained parameters, so later runs can reuse them.

        An earlier attempt that failed, or whose owner is dead, is discarded first: its rows and
        its artifact folder are deleted. Raises RunInProgressError while a live process computes
        the run, and RunStatusError if the run already finished, unless `replace_finished`
        (redo it: --force, or its files are damaged; a run this process set aside for the redo
        is taken over)."""
        _check_run_id(run_id)
        for field, value in (("name", name), ("world", world), ("code_version", code_version)):
            _to_sql(value, "str", f"begin_run: {field}")
        try:
            config_json = art.dumps_json(dict(config))  # key order kept for load_result
        except (TypeError, ValueError) as err:
            raise TypeError(f"begin_run: config is not JSON-serialisable: {err}") from err
        me = lease.Owner.me()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT status, finished_at, owner_pid, owner_host, heartbeat_at, created_at "
                "FROM runs WHERE run_id=?",
                (run_id,),
            ).fetchone()
            if row is not None and row[0] == "finished" and not replace_finished:
                raise RunStatusError(
                    f"run {run_id} already finished (at {row[1]}); rerun with --force to redo it"
                )
            set_aside_by_me = replace_finished and row is not None and (row[2], row[3]) == (me.pid, me.host)
            if row is not None and row[0] == "running" and lease.owner_alive(*row[2:5]) and not set_aside_by_me:
                raise RunInProgressError(
                    f"run {run_id} is being computed by another mesascope process (pid {row[2]} "
                    f"on {row[3]}, started {row[5]}, alive {lease.seconds_since(row[4]):.0f}s "
                    "ago); wait for it to finish, then run the same command again to reuse its "
                    "result"
                )
            if row is not None:
                conn.execute("DELETE FROM runs WHERE run_id=?", (run_id,))  # cascades
            # Inside the write lock, so no other writer can be finishing this run meanwhile.
            run_dir = self.artifact_root / run_id
            if run_dir.exists():
                shutil.rmtree(run_dir)
            stamp = _now()
            conn.execute(
                "INSERT INTO runs (run_id, name, world, config_json, code_version, status, "
                "created_at, owner_pid, owner_host, heartbeat_at, training_id) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (run_id, name, world, config_json, code_version, stamp, me.pid, me.host, stamp, training_id),
            )

    def set_aside(self, run_id: str) -> backup.RunBackup:
        """Copy a finished run to disk before a redo (`--force`) deletes it: its rows to
        `rows.json` and its artifact folder moved, under `.<run_id>.previous/` (`store.backup`),
        and mark it as being redone by this process, all in one transaction. A redo that fails or
        is interrupted puts the run back (`restore`); one killed outright is put back by the next
        store opened on the file (`recover_set_aside`); `discard` drops the copy once the redo
        has finished."""
        me = lease.Owner.me()
        with self._transaction() as conn:
            if self.status(run_id) != "finished":
                raise RunStatusError(f"run {run_id} is not finished; only a finished run is set aside for a redo")
            rows = {}
            for table in self._run_tables():
                cursor = conn.execute(f"SELECT * FROM {table} WHERE run_id=?", (run_id,))  # noqa: S608 (names from sqlite_master)
                rows[table] = ([d[0] for d in cursor.description], cursor.fetchall())
            partial, aside = backup.aside_folder(self.artifact_root, run_id, partial=True), backup.aside_folder(self.artifact_root, run_id)
            for stale in (partial, aside):  # left by a redo that finished but was killed before `discard`
                if stale.exists():
                    shutil.rmtree(stale)
            partial.mkdir(parents=True)
            backup.write_rows(partial, rows)
            folder = self.run_dir(run_id)
            if folder.exists():
                folder.rename(partial / backup.FILES)
            partial.rename(aside)
            conn.execute(
                "UPDATE runs SET status='running', owner_pid=?, owner_host=?, heartbeat_at=? WHERE run_id=?",
                (me.pid, me.host, _now(), run_id),
            )
        return backup.RunBackup(run_id, rows, aside)

    def restore(self, copy: backup.RunBackup) -> None:
        """Put back a run set aside: the redo's rows and files go, the old ones return."""
        with self._transaction() as conn:
            self._put_back(conn, copy)

    def _put_back(self, conn: sqlite3.Connection, copy: backup.RunBackup) -> None:
        conn.execute("DELETE FROM runs WHERE run_id=?", (copy.run_id,))  # cascades
        for table, (columns, rows) in copy.rows.items():  # runs first
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608
        folder = self.run_dir(copy.run_id)
        if folder.exists():
            shutil.rmtree(folder)
        if copy.files.exists():
            copy.files.rename(folder)
        shutil.rmtree(copy.folder)

    def discard(self, copy: backup.RunBackup) -> None:
        """Drop the copy of a run set aside (its redo finished)."""
        if copy.folder.exists():
            shutil.rmtree(copy.folder)

    def recover_set_aside(self) -> list[str]:
        """Put back every run whose redo was killed outright, and drop copies no longer needed;
        return the ids of the runs put back. A copy is left alone while a live process redoes
        its run. Runs when a writable store opens."""
        restored = []
        for run_id, folder in backup.leftovers(self.artifact_root):
            with self._transaction() as conn:
                if not folder.exists():  # handled by another process meanwhile
                    continue
                row = conn.execute("SELECT status, owner_pid, owner_host, heartbeat_at FROM runs WHERE run_id=?", (run_id,)).fetchone()
                files, run_folder = folder / backup.FILES, self.artifact_root / run_id
                if folder.name.endswith(backup.PARTIAL):  # its set-aside never committed: the rows are still in place
                    if row is not None and row[0] == "finished" and files.exists() and not run_folder.exists():
                        files.rename(run_folder)
                    shutil.rmtree(folder)
                elif row is not None and row[0] == "running" and lease.owner_alive(*row[1:]):
                    continue
                elif row is not None and row[0] == "finished":  # the redo finished; its copy is spare
                    shutil.rmtree(folder)
                else:
                    self._put_back(conn, backup.RunBackup(run_id, backup.read_rows(folder), folder))
                    restored.append(run_id)
        return restored

    def _run_tables(self) -> list[str]:
        """The tables with a run_id column, `runs` first (the others reference it)."""
        names = [row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        with_run = [n for n in names if any(c[1] == "run_id" for c in self.conn.execute(f"PRAGMA table_info({n})"))]
        return sorted(with_run, key=lambda n: n != "runs")

    def trained_runs(self, training_id: str) -> list[str]:
        """Finished runs whose parameters came from the training `training_id`, newest first."""
        rows = self.conn.execute(
            "SELECT run_id FROM runs WHERE training_id=? AND status='finished' ORDER BY finished_at DESC",
            (training_id,),
        )
        return [r[0] for r in rows]

    def training_id(self, run_id: str) -> str | None:
        """The training id recorded with a run (None for runs stored before training ids)."""
        row = self.conn.execute("SELECT training_id FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise self._unknown(run_id)
        return row[0]

    def heartbeat(self, run_id: str) -> lease.Heartbeat:
        """A context manager that keeps this process's lease on `run_id` fresh while it runs."""
        return lease.Heartbeat(self.path, run_id)

    def owns(self, run_id: str) -> bool:
        """Whether `run_id` is running and owned by this process."""
        me = lease.Owner.me()
        row = self.conn.execute(
            "SELECT 1 FROM runs WHERE run_id=? AND status='running' AND owner_pid=? AND owner_host=?",
            (run_id, me.pid, me.host),
        ).fetchone()
        return row is not None

    def mark_failed(self, run_id: str, reason: str) -> None:
        """Mark a running run as 'failed', recording why. A later `begin_run` starts it afresh.
        Raises RunStatusError for a finished run and UnknownRunError for an unknown one; a run
        another live process has taken over is left alone."""
        me = lease.Owner.me()
        with self._transaction() as conn:
            status = self.status(run_id)
            if status is None:
                raise self._unknown(run_id)
            if status == "finished":
                raise RunStatusError(f"run {run_id} already finished; it cannot be marked failed")
            conn.execute(
                "UPDATE runs SET status='failed', failure_reason=?, finished_at=? WHERE run_id=? "
                "AND (owner_pid IS NULL OR (owner_pid=? AND owner_host=?))",
                (str(reason), _now(), run_id, me.pid, me.host),
            )

    def finish_run(self, result: ExperimentResult, files: Sequence[Path] = ()) -> None:
        """Store everything in `result` and mark its run 'finished'.

        The run must have been begun (by this process) with the same name, world and config.
        Artifact files (per-episode arrays, GIFs) are written first, atomically; then all rows,
        the size and SHA-256 of those files and of `files` (files the caller already wrote into
        the run's folder: parameters, checkpoints) and the status flip go in one transaction, so
        a crash at any point leaves the run 'running' and unreadable, never half-finished."""
        if not isinstance(result, ExperimentResult):
            raise TypeError(f"finish_run expects an ExperimentResult, got {type(result).__name__}")
        run_id = result.run_id
        row = self.conn.execute(
            "SELECT status, name, world, config_json FROM runs WHERE run_id=?", (run_id,)
        ).fetchone()
        if row is None:
            raise UnknownRunError(
                f"finish_run: run {run_id!r} was never begun; call begin_run first"
            )
        if row[0] != "running":
            raise RunStatusError(
                f"finish_run: run {run_id} has status {row[0]!r}, not 'running'; "
                "call begin_run first"
            )
        checks = (("name", row[1], result.name), ("world", row[2], result.world))
        for field, stored, given in checks:
            if stored != given:
                raise ValueError(
                    f"finish_run: result.{field} is {given!r} but run {run_id} was begun with "
                    f"{field} {stored!r}"
                )
        try:
            config_json = art.dumps_json(dict(result.config), canonical=True)
        except (TypeError, ValueError) as err:
            raise TypeError(f"result.config is not JSON-serialisable: {err}") from err
        if config_json != art.dumps_json(json.loads(row[3]), canonical=True):
            raise ValueError(
                f"finish_run: result.config differs from the config run {run_id} was begun with"
            )
        prepared = _prepare(result)
        if not self.owns(run_id):
            raise RunStatusError(f"finish_run: run {run_id} is no longer owned by this process")
        records = self._write_artifacts(result)
        run_dir = self.run_dir(run_id)
        for path in files:
            path = Path(path)
            if path.parent.resolve() != run_dir.resolve() or not path.is_file():
                raise ValueError(f"finish_run: {path} is not a file in the run's folder {run_dir}")
            records.append(self._record("file", path.name, path, {}))
        with self._transaction() as conn:
            for table, rows in prepared.rows.items():
                self._insert_rows(conn, table, run_id, rows)
            self._insert_curves(conn, run_id, prepared)
            self._insert_artifacts(conn, run_id, records)
            self._mark_finished(conn, run_id, prepared.run_columns)

    def _write_artifacts(self, result: ExperimentResult) -> list[dict[str, Any]]:
        run_dir = self.run_dir(result.run_id)
        records = []
        arrays: dict[str, np.ndarray] = {}
        order: dict[str, list[str]] = {"returns": [], "normalised": []}
        for group, attr in (("returns", "episode_returns"), ("normalised", "episode_normalised")):
            for dist, value in getattr(result, attr).items():
                arrays[f"{group}/{dist}"] = value
                order[group].append(dist)
        path = art.save_arrays(
            run_dir / "episodes.safetensors",
            arrays,
            {group: json.dumps(names) for group, names in order.items()},
        )
        records.append(self._record("episodes", "episodes", path, {}))
        for name in OPTIONAL_RECORDS:
            record = getattr(result, name)
            if record is not None:
                arrays, manifest = record.to_arrays()
                path = art.save_arrays(run_dir / f"{name}.safetensors", arrays, manifest)
                records.append(self._record(name, name, path, {}))
        for i, (caption, frames) in enumerate(result.gifs.items()):
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", caption).strip("-.")[:60] or "gif"
            path = art.save_gif(run_dir / "gifs" / f"{i:03d}_{slug}.gif", frames)
            records.append(self._record("gif", caption, path, {"frames": int(len(frames))}))
        return records

    def _record(self, kind: str, name: str, path: Path, meta: dict[str, Any]) -> dict[str, Any]:
        return {
            "kind": kind,
            "name": name,
            "path": path.relative_to(self.artifact_root).as_posix(),
            "sha256": art.sha256_file(path),
            "bytes": path.stat().st_size,
            "meta_json": json.dumps(meta),
        }

    def _insert_rows(
        self, conn: sqlite3.Connection, table: str, run_id: str, rows: list[tuple[Any, ...]]
    ) -> None:
        columns = ["run_id", *_columns(ROW_TABLES[table])]
        conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            ((run_id, *row) for row in rows),
        )

    def _insert_curves(self, conn: sqlite3.Connection, run_id: str, prepared: _Prepared) -> None:
        steps = prepared.curve_steps.astype(np.float64).tolist()
        for metric, arr in prepared.curves.items():
            n_agents, n_updates = arr.shape
            values = arr.astype(np.float64).tolist()
            conn.executemany(
                "INSERT INTO curves (run_id, metric, agent, u, step, value) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (run_id, metric, a, u, steps[u], values[a][u])
                    for a in range(n_agents)
                    for u in range(n_updates)
                ),
            )

    def _insert_artifacts(
        self, conn: sqlite3.Connection, run_id: str, records: list[dict[str, Any]]
    ) -> None:
        conn.executemany(
            "INSERT INTO artifacts (run_id, kind, name, path, sha256, bytes, meta_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (run_id, r["kind"], r["name"], r["path"], r["sha256"], r["bytes"], r["meta_json"])
                for r in records
            ),
        )

    def _mark_finished(
        self, conn: sqlite3.Connection, run_id: str, columns: dict[str, Any]
    ) -> None:
        assignments = ", ".join(f"{c}=?" for c in columns)
        me = lease.Owner.me()
        cur = conn.execute(
            f"UPDATE runs SET status='finished', finished_at=?, {assignments} "
            "WHERE run_id=? AND status='running' AND owner_pid=? AND owner_host=?",
            (_now(), *columns.values(), run_id, me.pid, me.host),
        )
        if cur.rowcount != 1:
            raise RunStatusError(f"run {run_id} stopped being 'running' (or was taken over) while it was being saved")

    # --- reading runs -------------------------------------------------------------------------

    def load_result(self, run_id: str) -> ExperimentResult:
        """Read a finished run back as the ExperimentResult that was stored.

        Raises UnknownRunError (listing known ids) for an unknown id, RunStatusError for a run
        that is not finished, StoreError if an artifact file is missing or corrupt, and
        StoreNeedsMigrationError for a store of an older schema opened read-only."""
        if self.schema_version < SCHEMA_VERSION:
            raise StoreNeedsMigrationError(
                f"{self.path} was written by an older mesascope (schema version {self.schema_version}; this "
                f"one reads {SCHEMA_VERSION}) and must be migrated before its runs are read: open it with "
                "write access once (any mesascope command on a writable copy does it; every row is kept)"
            )
        with self._transaction("DEFERRED") as conn:  # one consistent snapshot
            row = conn.execute(
                "SELECT name, world, config_json, status, failure_reason, objectives_json, "
                "shift_name, thresholds_json, timings_json, curves_json "
                "FROM runs WHERE run_id=?",
                (run_id,),
            ).fetchone()
            if row is None:
                raise self._unknown(run_id)
            (name, world, config_json, status, reason, objectives_json, shift_name,
             thresholds_json, timings_json, curves_json) = row
            if status != "finished":
                why = f" ({reason})" if reason else ""
                raise RunStatusError(
                    f"run {run_id} has status {status!r}{why}, not 'finished'; only finished "
                    "runs can be read (run the command that made it again to redo it)"
                )
            rows = {table: self._load_rows(conn, table, run_id) for table in ROW_TABLES}
            curve_steps, curves = self._load_curves(conn, run_id, json.loads(curves_json))
            records = conn.execute(
                "SELECT kind, name, path, sha256, bytes, meta_json FROM artifacts "
                "WHERE run_id=? ORDER BY id",
                (run_id,),
            ).fetchall()
        episode_returns: dict[str, np.ndarray] = {}
        episode_normalised: dict[str, np.ndarray] = {}
        gifs: dict[str, np.ndarray] = {}
        optional: dict[str, Any] = {}  # runs stored before a record existed have no such artifact
        for kind, art_name, rel, sha, size, meta_json in records:
            path = self._checked_artifact(run_id, kind, art_name, rel, sha, size)
            if kind == "episodes":
                arrays, meta = art.load_arrays(path)
                for group, target in (("returns", episode_returns),
                                      ("normalised", episode_normalised)):
                    for dist in json.loads(meta[group]):
                        target[dist] = arrays[f"{group}/{dist}"]
            elif kind == "gif":
                gifs[art_name] = art.load_gif(path, frames=json.loads(meta_json)["frames"])
            elif kind in OPTIONAL_RECORDS:
                optional[kind] = OPTIONAL_RECORDS[kind].from_arrays(*art.load_arrays(path))
        return ExperimentResult(
            run_id=run_id,
            name=name,
            world=world,
            objectives=tuple(json.loads(objectives_json)),
            shift_name=shift_name,
            config=json.loads(config_json),
            agents=rows["agents"],
            curve_steps=curve_steps,
            curves=curves,
            evaluations=rows["evaluations"],
            inferences=rows["inferences"],
            verdicts=rows["verdicts"],
            episode_returns=episode_returns,
            episode_normalised=episode_normalised,
            thresholds=json.loads(thresholds_json),
            gifs=gifs,
            timings=json.loads(timings_json),
            **optional,
        )

    def _load_rows(self, conn: sqlite3.Connection, table: str, run_id: str) -> list[Any]:
        cls = ROW_TABLES[table]
        fields = dataclasses.fields(cls)
        cur = conn.execute(
            f"SELECT {', '.join(_columns(cls))} FROM {table} WHERE run_id=? ORDER BY id",
            (run_id,),
        )
        return [
            cls(**{f.name: _from_sql(v, str(f.type)) for f, v in zip(fields, values)})
            for values in cur
        ]

    def _load_curves(
        self, conn: sqlite3.Connection, run_id: str, meta: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        steps = np.asarray(meta["steps"], dtype=meta["steps_dtype"])
        curves: dict[str, np.ndarray] = {}
        for spec in meta["metrics"]:
            shape = tuple(spec["shape"])
            values = np.full(shape, np.nan)
            got = conn.execute(
                "SELECT agent, u, value FROM curves WHERE run_id=? AND metric=?",
                (run_id, spec["name"]),
            ).fetchall()
            if len(got) != values.size:
                raise StoreError(
                    f"run {run_id}: curve {spec['name']!r} has {len(got)} stored values, "
                    f"expected {values.size} for shape {shape}"
                )
            if got:
                agent, u, value = zip(*got)
                values[list(agent), list(u)] = np.array(value, dtype=np.float64)  # None -> NaN
            curves[spec["name"]] = values.astype(spec["dtype"])
        return steps, curves

    def _checked_artifact(
        self, run_id: str, kind: str, name: str, rel: str, sha: str, size: int
    ) -> Path:
        path = self.artifact_root / rel
        what = f"artifact {kind} {name!r} of run {run_id} ({path})"
        if not path.is_file():
            raise StoreError(f"{what} is missing")
        if path.stat().st_size != size or art.sha256_file(path) != sha:
            raise StoreError(f"{what} does not match its recorded size and SHA-256; it is corrupt")
        return path


def open_for_reading(path: str | Path) -> Store:
    """A read-only `Store` at `path`; a store of an older schema is first migrated in place (every
    row kept) when the file can be written, so reading commands open stores older code wrote."""
    store = Store(path, readonly=True)
    if store.schema_version < SCHEMA_VERSION and os.access(path, os.W_OK) and os.access(Path(path).parent, os.W_OK):
        store.close()
        Store(path).close()
        store = Store(path, readonly=True)
    return store


def _check_run_id(run_id: Any) -> None:
    if not isinstance(run_id, str) or not _RUN_ID_RE.fullmatch(run_id):
        raise ValueError(
            f"run id {run_id!r} must be 1-128 letters, digits, '_', '.' or '-' "
            "(it names the run's artifact folder)"
        )


def _prepare(result: ExperimentResult) -> _Prepared:
    """Check every field of `result` and convert it to rows; errors name the field."""
    rows = {
        table: [
            _row_values(item, cls, f"result.{table}[{i}]")
            for i, item in enumerate(getattr(result, table))
        ]
        for table, cls in ROW_TABLES.items()
    }
    steps = _real_array(result.curve_steps, "result.curve_steps")
    if steps.ndim != 1:
        raise ValueError(f"result.curve_steps must be 1-D (U,), got shape {steps.shape}")
    curves: dict[str, np.ndarray] = {}
    metrics = []
    for metric, value in result.curves.items():
        where = f"result.curves[{metric!r}]"
        _to_sql(metric, "str", "result.curves key")
        arr = _real_array(value, where)
        if arr.ndim != 2 or arr.shape[1] != steps.shape[0]:
            raise ValueError(
                f"{where} must have shape (A, U) with U = len(curve_steps) = {steps.shape[0]}, "
                f"got {arr.shape}"
            )
        curves[metric] = arr
        metrics.append({"name": metric, "dtype": arr.dtype.name, "shape": list(arr.shape)})
    for attr in ("episode_returns", "episode_normalised"):
        for dist, value in getattr(result, attr).items():
            _to_sql(dist, "str", f"result.{attr} key")
            arr = _real_array(value, f"result.{attr}[{dist!r}]")
            if arr.ndim != 3:
                raise ValueError(f"result.{attr}[{dist!r}] must be (A, N, K), got {arr.shape}")
    for name, record_class in OPTIONAL_RECORDS.items():
        record = getattr(result, name)
        if record is not None and not isinstance(record, record_class):
            raise TypeError(f"result.{name} must be a {record_class.__name__} or None, got {type(record).__name__}")
    for caption, frames in result.gifs.items():
        _to_sql(caption, "str", "result.gifs key")
        art._checked_frames(frames, f"result.gifs[{caption!r}]")
    objectives = list(result.objectives)
    for i, objective in enumerate(objectives):
        _to_sql(objective, "str", f"result.objectives[{i}]")
    run_columns = {
        "objectives_json": json.dumps(objectives),
        "shift_name": _to_sql(result.shift_name, "str", "result.shift_name"),
        "thresholds_json": art.dumps_json(_float_dict(result.thresholds, "result.thresholds")),
        "timings_json": art.dumps_json(_float_dict(result.timings, "result.timings")),
        "curves_json": art.dumps_json(
            {"steps": steps.tolist(), "steps_dtype": steps.dtype.name, "metrics": metrics}
        ),
    }
    return _Prepared(rows=rows, curve_steps=steps, curves=curves, run_columns=run_columns)
