"""Finished runs that must be redone (issue 9): `--force`, a deleted artifact folder, damaged
parameters; and the CLI around them (clean errors naming damaged files, output paths, markup in
paths). Training is replaced by a synthetic result so only the bookkeeping is exercised; real
training runs are in test_runner.py and test_kill_stages.py."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.experiments import config as C
from mesascope.experiments import runner as runner_module
from mesascope.store import artifacts
from mesascope.store.db import Store

TINY = ["seeds=1", "train_shifts=0", "ppo.total_steps=2048", "ppo.num_envs=8", "ppo.num_steps=16", "eval.episodes=4"]


@pytest.fixture
def fake_training(monkeypatch, dose_experiment):
    """Replace training and the HTML report by cheap stand-ins; count the runs computed."""
    calls = []

    def execute(config, world, run_id, store, progress, source=None):
        calls.append(run_id)
        run_dir = store.run_dir(run_id)
        files = list(artifacts.save_params(run_dir / "params", {"dense": {"kernel": np.ones((1, 3, 2), np.float32)}}, {"run_id": run_id}))
        result = dataclasses.replace(dose_experiment(2, (0.0, 0.5)), run_id=run_id, name=config.name, world=config.world, config=config.to_dict())
        return result, files

    def report(result, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(f"<html>{result.run_id}</html>")
        return Path(path)

    monkeypatch.setattr(runner_module, "_execute", execute)
    monkeypatch.setattr(runner_module, "write_report", report)
    return calls


def cli_run(db: Path, *extra: str):
    return CliRunner().invoke(app, ["run", "coin", *[x for s in TINY for x in ("--set", s)], "--db", str(db), *extra], env={"COLUMNS": "200"})


def test_force_and_damaged_finished_runs_are_redone(tmp_path, fake_training):
    config = C.apply_overrides(C.ExperimentConfig(name="tiny"), TINY)
    with Store(tmp_path / "m.db") as store:
        first = runner_module.run_experiment(config, store)
        run_id = first.result.run_id
        assert runner_module.run_experiment(config, store).reused
        forced = runner_module.run_experiment(config, store, force=True)
        assert not forced.reused and forced.redone == "--force" and store.status(run_id) == "finished"
        assert len(fake_training) == 2
        # the whole artifact folder deleted: redone, not a traceback
        for path in sorted(store.run_dir(run_id).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        store.run_dir(run_id).rmdir()
        again = runner_module.run_experiment(config, store)
        assert not again.reused and "missing" in again.redone and len(fake_training) == 3
        # one flipped byte in the parameters: redone too
        params = store.run_dir(run_id) / "params.safetensors"
        data = params.read_bytes()
        params.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        again = runner_module.run_experiment(config, store)
        assert "params.safetensors" in again.redone and "corrupt" in again.redone and len(fake_training) == 4
        assert store.load_result(run_id).run_id == run_id


def test_an_interrupted_force_redo_keeps_the_finished_run(tmp_path, fake_training, monkeypatch):
    """Ctrl-C (or a crash) during a --force redo puts the finished run back as it was: its rows
    and its files; a redo that finishes replaces it and leaves no copy behind."""
    config = C.apply_overrides(C.ExperimentConfig(name="tiny"), TINY)
    with Store(tmp_path / "m.db") as store:
        run_id = runner_module.run_experiment(config, store).result.run_id
        folder = store.run_dir(run_id)
        files = {p.name: p.read_bytes() for p in folder.iterdir()}
        tables = ("runs", "agents", "curves", "evaluations", "inferences", "verdicts", "artifacts")
        rows = lambda: {table: sorted(map(repr, store.conn.execute(f"SELECT * FROM {table} WHERE run_id=?", (run_id,)))) for table in tables}
        before = rows()
        assert before["runs"] and before["agents"] and before["artifacts"]
        execute = runner_module._execute

        def interrupted(config, world, run_id, store, progress, source=None):
            execute(config, world, run_id, store, progress, source)  # writes this attempt's files
            raise KeyboardInterrupt

        monkeypatch.setattr(runner_module, "_execute", interrupted)
        with pytest.raises(KeyboardInterrupt):
            runner_module.run_experiment(config, store, force=True)
        assert store.status(run_id) == "finished" and rows() == before
        store.load_result(run_id)  # checks every file against its stored hash
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
        monkeypatch.setattr(runner_module, "_execute", execute)
        assert runner_module.run_experiment(config, store, force=True).redone == "--force"
        assert store.status(run_id) == "finished" and not list(store.artifact_root.glob(".*.previous"))


def test_cli_force_reports_damage_and_writes_where_asked(tmp_path, fake_training):
    db = tmp_path / "store [/x]" / "m[/x].db"  # markup in the path is printed, not parsed
    result = cli_run(db)
    assert result.exit_code == 0, result.output
    assert "[/x]" in result.output
    result = cli_run(db, "--force")
    assert result.exit_code == 0, result.output
    assert len(fake_training) == 2
    (run_id,) = set(fake_training)
    params = db.with_name(f"{db.stem}_artifacts") / run_id / "params.safetensors"
    params.write_bytes(params.read_bytes()[:-7])
    for command in (["report", "latest"], ["influence", "latest"], ["dose", "latest"]):
        result = CliRunner().invoke(app, [*command, "--db", str(db)], env={"COLUMNS": "300"})
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert "params.safetensors" in result.output and "corrupt" in result.output
    result = cli_run(db)
    assert result.exit_code == 0 and "damaged, so it was redone" in result.output
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(app, ["report", "latest", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert run_id in (out / "report.html").read_text()
    for command in (["dose", "latest", "--png"], ["scatter", "latest", "--png"], ["influence", "latest", "--png"], ["report", "latest", "--out"]):
        result = CliRunner().invoke(app, [*command, str(tmp_path / "missing" / "dir" / "x.png"), "--db", str(db)], env={"COLUMNS": "300"})
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert "does not exist" in " ".join(result.output.split())


def test_store_problems_are_clean_cli_errors(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("not a database")
    folder = tmp_path / "folder.db"
    folder.mkdir()
    for db in (bad, folder):
        for command in (["runs"], ["report", "latest"], ["run", "coin", *[x for s in TINY for x in ("--set", s)]]):
            result = CliRunner().invoke(app, [*command, "--db", str(db)], env={"COLUMNS": "300"})
            assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (db, command, result.output)
            assert result.output.startswith("error:") and str(db.name) in result.output
    assert bad.read_text() == "not a database"


def test_listing_a_store_does_not_write_to_it(tmp_path, fake_training):
    db = tmp_path / "m.db"
    assert cli_run(db).exit_code == 0
    before = db.read_bytes()
    result = CliRunner().invoke(app, ["runs", "--db", str(db)], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "finished" in result.output
    assert db.read_bytes() == before  # (SQLite may add its shared-memory index beside it)


def _read_only(paths: list[Path]) -> bool:
    """Make `paths` read-only even for root (chmod, else the immutable flag); False if impossible."""
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if not os.access(paths[0], os.W_OK):
        return True
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
    return done.returncode == 0 and not os.access(paths[0], os.W_OK)


def test_a_read_only_store_can_be_read_and_refuses_writes_cleanly(tmp_path, fake_training):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "m.db"
    assert cli_run(db).exit_code == 0
    with Store(db) as store:  # leave it as a finished store is left: checkpointed, no -wal/-shm
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in folder.glob("m.db-*"):
        extra.unlink()
    paths = [folder, db]
    if not _read_only(paths):
        pytest.skip("this machine cannot make a read-only folder")
    try:
        result = CliRunner().invoke(app, ["runs", "--db", str(db)], env={"COLUMNS": "300"})
        assert result.exit_code == 0 and "finished" in result.output, result.output
        result = CliRunner().invoke(app, ["report", "latest", "--db", str(db), "--out", str(tmp_path / "r.html")])
        assert result.exit_code == 0, result.output
        result = cli_run(db, "--force")
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert "read-only" in result.output
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)
