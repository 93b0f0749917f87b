"""What the store guarantees against hostile files, concurrent owners and damaged artifacts
(issue 9): clean StoreErrors before any write, a lease on running runs, a v1 -> v2 migration that
keeps every row, and every file of a run checked against its recorded hash."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mesascope.store import artifacts, lease
from mesascope.store.db import (
    SCHEMA_VERSION,
    RunInProgressError,
    RunStatusError,
    Store,
    StoreError,
    StoreNeedsMigrationError,
    open_for_reading,
)
sys.path.insert(0, str(Path(__file__).parent))
from test_db import CODE, abandon, begin, make_config, make_result, same_value  # noqa: E402

V1_SCHEMA = Path(__file__).parent / "data" / "schema_v1.sql"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, caption TEXT)")
    conn.execute("INSERT INTO photos (caption) VALUES ('holiday')")
    conn.commit()
    conn.close()
    return path


def versioned_db(path: Path, version: object) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version)")
    conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.write_bytes(b"just some text, not a database\n" * 4) and p, ["not an SQLite database"]),
        (foreign_db, ["not a mesascope store", "photos"]),
        (lambda p: versioned_db(p, SCHEMA_VERSION + 1), [f"schema version {SCHEMA_VERSION + 1}", "newer"]),
        (lambda p: versioned_db(p, "banana"), ["schema version 'banana'", "no migration"]),
        (lambda p: versioned_db(p, 0), ["schema version 0"]),
    ],
)
@pytest.mark.parametrize("readonly", [False, True])
def test_a_refused_file_gives_a_store_error_and_is_left_byte_for_byte(tmp_path, make, words, readonly):
    path = tmp_path / "m.db"
    make(path)
    before = digest(path)
    with pytest.raises(StoreError) as error:
        Store(path, readonly=readonly)
    for word in words:
        assert word in str(error.value)
    assert digest(path) == before  # never switched to WAL, never given a schema
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.db"]  # no -wal / -shm / artifacts


def test_a_folder_or_an_uncreatable_path_is_a_store_error(tmp_path):
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path / "folder.db")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create a store"):
        Store(tmp_path / "file" / "m.db")
    with pytest.raises(StoreError, match="no store at"):
        Store(tmp_path / "absent.db", readonly=True)


def test_a_read_only_store_is_read_without_writing(tmp_path):
    path = tmp_path / "m.db"
    with Store(path) as store:
        run_id = begin(store)
        store.finish_run(make_result(run_id, make_config()))
    before = digest(path)
    with Store(path, readonly=True) as store:
        assert [r["run_id"] for r in store.list_runs()] == [run_id]
        assert store.load_result(run_id).run_id == run_id
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.conn.execute("DELETE FROM runs")
    assert digest(path) == before


def test_a_version_1_store_is_migrated_in_place_keeping_every_row(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA.read_text())
    conn.execute(
        "INSERT INTO runs (run_id, name, world, config_json, code_version, status, created_at, failure_reason) "
        "VALUES ('oldrun', 'n', 'coin', '{}', 'v0', 'failed', '2026-01-01T00:00:00+00:00', 'why')"
    )
    conn.commit()
    conn.close()
    with Store(path, readonly=True) as store:  # an old store can be listed without migrating it
        assert [r["run_id"] for r in store.list_runs()] == ["oldrun"]
        with pytest.raises(StoreNeedsMigrationError, match="older mesascope.*write access once"):
            store.load_result("oldrun")  # its runs need the new columns: a clear error
    with open_for_reading(path) as store:  # a reading command migrates a writable store first
        assert store.schema_version == SCHEMA_VERSION and store.readonly
    with Store(path) as store:
        assert store.conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        row = store.conn.execute("SELECT run_id, status, failure_reason, owner_pid FROM runs").fetchall()
        assert row == [("oldrun", "failed", "why", None)]
        run_id = begin(store)  # the migrated store works as a new one
        result = make_result(run_id, make_config())
        store.finish_run(result)
        assert same_value(store.load_result(run_id).evaluations, result.evaluations)
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_live_run_is_never_taken_over_and_a_dead_one_is(tmp_path):
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        (store.run_dir(run_id)).mkdir(parents=True)
        (store.run_dir(run_id) / "params.safetensors").write_bytes(b"work in progress")
        with pytest.raises(RunInProgressError, match="being computed by another mesascope process.*run the same command again"):
            store.begin_run(run_id, "keys-small", "keys", make_config(), CODE)
        assert store.status(run_id) == "running"
        assert (store.run_dir(run_id) / "params.safetensors").exists()  # nothing deleted
        with pytest.raises(RunStatusError, match="run the command that made it again") as error:
            store.load_result(run_id)
        assert "begin_run" not in str(error.value)  # says what to type, not a function name
        # on another host with a fresh heartbeat: alive; with a stale one: gone
        store.conn.execute("UPDATE runs SET owner_host='elsewhere', heartbeat_at=? WHERE run_id=?", (lease.now(), run_id))
        with pytest.raises(RunInProgressError):
            store.begin_run(run_id, "keys-small", "keys", make_config(), CODE)
        store.conn.execute("UPDATE runs SET heartbeat_at='2020-01-01T00:00:00+00:00' WHERE run_id=?", (run_id,))
        store.mark_failed(run_id, "not mine")  # another owner's run is left alone
        assert store.status(run_id) == "running"
        store.begin_run(run_id, "keys-small", "keys", make_config(), CODE)
        assert not store.run_dir(run_id).exists()
        abandon(store, run_id)  # same host, process gone
        store.begin_run(run_id, "keys-small", "keys", make_config(), CODE)
        assert store.owns(run_id)


def test_a_heartbeat_keeps_the_lease_fresh(tmp_path):
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        store.conn.execute("UPDATE runs SET heartbeat_at='2020-01-01T00:00:00+00:00' WHERE run_id=?", (run_id,))
        with lease.Heartbeat(store.path, run_id, interval=0.05):
            deadline = time.monotonic() + 10
            while store.conn.execute("SELECT heartbeat_at FROM runs").fetchone()[0].startswith("2020"):
                assert time.monotonic() < deadline
        assert lease.seconds_since(store.conn.execute("SELECT heartbeat_at FROM runs").fetchone()[0]) < 10


def test_a_finished_run_is_redone_only_when_asked(tmp_path):
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        store.finish_run(make_result(run_id, make_config()))
        with pytest.raises(RunStatusError, match="rerun with --force"):
            store.begin_run(run_id, "keys-small", "keys", make_config(), CODE)
        store.begin_run(run_id, "keys-small", "keys", make_config(), CODE, replace_finished=True)
        assert store.status(run_id) == "running"
        assert not store.run_dir(run_id).exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
@pytest.mark.parametrize("name", ["params.safetensors", "params.json", "checkpoints.json"])
def test_every_stored_file_is_checked_on_read(tmp_path, damage, name):
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        run_dir = store.run_dir(run_id)
        files = list(artifacts.save_params(run_dir / "params", {"dense": {"kernel": np.ones((2, 3), np.float32)}}, {}))
        index = run_dir / "checkpoints.json"
        index.write_text(json.dumps({"format": "mesascope-checkpoints", "steps": [8], "stems": ["params"]}))
        store.finish_run(make_result(run_id, make_config()), files + [index])
        store.load_result(run_id)
        path = run_dir / name
        data = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        else:
            path.unlink()
        with pytest.raises(StoreError, match=f"{name}.*(missing|corrupt)"):
            store.load_result(run_id)


def test_unparsable_or_incomplete_manifests_name_the_file(tmp_path):
    from mesascope.experiments import checkpoints

    artifacts.save_params(tmp_path / "params", {"w": np.zeros(2, np.float32)}, {})
    manifest = tmp_path / "params.json"
    record = json.loads(manifest.read_text())
    del record["sha256"]
    manifest.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"params\.json lacks \['sha256'\]"):
        artifacts.load_params(tmp_path / "params")
    manifest.write_text('{"format": "mesascope-params", ')
    with pytest.raises(ValueError, match=r"params\.json is not valid JSON"):
        artifacts.load_params(tmp_path / "params")
    (tmp_path / "checkpoints.json").write_text("[1, 2")
    with pytest.raises(ValueError, match=r"checkpoints\.json is not valid JSON"):
        checkpoints.load(tmp_path, final_step=1)


def test_identical_arrays_give_byte_identical_files_across_processes(tmp_path):
    """safetensors writes metadata in hash-map order, which differs between processes; the
    store sorts it, so equal content has equal hashes."""
    script = textwrap.dedent("""
        import sys, numpy as np
        from mesascope.store import artifacts
        meta = {f"key{i}": str(i) for i in range(12)}
        arrays = {"b": np.arange(5.0), "a": np.ones((2, 2), np.float32)}
        print(artifacts.sha256_file(artifacts.save_arrays(sys.argv[1], arrays, meta)))
    """)
    hashes = {
        subprocess.run([sys.executable, "-c", script, str(tmp_path / f"{i}.safetensors")], check=True,
                       capture_output=True, text=True, timeout=120).stdout.strip()
        for i in range(4)
    }
    assert len(hashes) == 1
    arrays, meta = artifacts.load_arrays(tmp_path / "0.safetensors")
    assert meta == {f"key{i}": str(i) for i in range(12)}
    np.testing.assert_array_equal(arrays["b"], np.arange(5.0))


KILLED_REDO = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from mesascope.store.db import Store
    db, run_id, stage = sys.argv[1:]
    rename = Path.rename
    def rename_then_maybe_die(self, target):
        if stage == "set_aside" and Path(target).name == f".{run_id}.previous":
            os.kill(os.getpid(), signal.SIGKILL)  # the copy is still partial, its transaction open
        return rename(self, target)
    Path.rename = rename_then_maybe_die
    store = Store(db)
    store.set_aside(run_id)
    store.begin_run(run_id, "keys-small", "keys", {"a": 1}, "code", replace_finished=True)
    (store.run_dir(run_id)).mkdir(parents=True)
    (store.run_dir(run_id) / "params.safetensors").write_bytes(b"half a redo")
    os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.parametrize("stage", ["set_aside", "redo"])
def test_a_force_redo_killed_outright_loses_nothing(tmp_path, stage):
    """SIGKILL while a --force redo sets the finished run aside, or in the middle of the redo:
    the next store opened on the file puts the run back, rows and files, as it was."""
    path = tmp_path / "m.db"
    with Store(path) as store:
        run_id = begin(store)
        store.finish_run(make_result(run_id, make_config()))
        tables = [t for (t,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'") if t != "schema_version"]
        rows = lambda s: {t: sorted(map(repr, s.conn.execute(f"SELECT * FROM {t} WHERE run_id=?", (run_id,)))) for t in tables if t != "sqlite_sequence"}
        before = rows(store)
        files = {p.relative_to(store.run_dir(run_id)): digest(p) for p in store.run_dir(run_id).rglob("*") if p.is_file()}
    killed = subprocess.run([sys.executable, "-c", KILLED_REDO, str(path), run_id, stage], timeout=120)
    assert killed.returncode == -9
    with Store(path, readonly=True) as store:  # as the kill left it: the old run is not in place
        assert store.status(run_id) == "finished" if stage == "set_aside" else store.status(run_id) == "running"
        assert not store.run_dir(run_id).exists() or stage == "redo"
    with Store(path) as store:
        assert store.recovered == ([] if stage == "set_aside" else [run_id])  # a partial copy: rows never moved
        assert store.status(run_id) == "finished" and rows(store) == before
        assert {p.relative_to(store.run_dir(run_id)): digest(p) for p in store.run_dir(run_id).rglob("*") if p.is_file()} == files
        assert not [p for p in store.artifact_root.iterdir() if p.name.startswith(".")]
        assert same_value(store.load_result(run_id).evaluations, make_result(run_id, make_config()).evaluations)


def test_a_live_redo_keeps_its_copy_and_a_finished_one_drops_it(tmp_path):
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        store.finish_run(make_result(run_id, make_config()))
        copy = store.set_aside(run_id)
        store.begin_run(run_id, "keys-small", "keys", make_config(), CODE, replace_finished=True)
        assert Store(tmp_path / "m.db").recover_set_aside() == [] and copy.folder.exists()  # its owner lives
        store.finish_run(make_result(run_id, make_config()))
        assert store.recover_set_aside() == [] and not copy.folder.exists()  # a finished redo's spare copy
