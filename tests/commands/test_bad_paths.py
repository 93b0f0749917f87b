"""Paths the command line cannot use are refused with an `error:` line, never a traceback: an
empty or folder store path, an output file in a folder that cannot be written (checked before
any work), and a store whose file is damaged after it was opened."""

import os
import shutil
from pathlib import Path

from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.store.db import Store


def invoke(*args):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def assert_refused(result, code, *words):
    assert result.exit_code == code, result.output
    assert "error:" in result.output and "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    for word in words:
        assert word in " ".join(result.output.split()), result.output


def test_an_empty_or_folder_store_path_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused(invoke("runs", "--db", ""), 2, "not a store file")
    assert_refused(invoke("run", "coin-demo", "--db", "."), 2, "not a store file")
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_an_output_file_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    # /proc refuses new files even to root, for whom permission bits would not tell
    assert_refused(invoke("show", "coin", "--png", "/proc/mesascope-test.png"), 2, "cannot write /proc/mesascope-test.png")
    assert_refused(invoke("show", "coin", "--png", ""), 2, "not a file name")
    assert not list(tmp_path.iterdir()) and not [p for p in Path("/proc").glob(".mesascope-probe-*")]


def test_a_damaged_store_gives_a_clean_error(tmp_path):
    good, damaged = tmp_path / "good.db", tmp_path / "damaged.db"
    with Store(good) as store:  # enough rows for a table to span many pages
        for i in range(300):
            store.begin_run(f"{i:012x}", "x" * 200, "coin", {"k": "v" * 500}, "v")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(good, damaged)
    page = 4096
    assert os.path.getsize(damaged) > 60 * page
    with open(damaged, "r+b") as f:  # a page of the runs table: the file still opens as a store
        f.seek(40 * page)
        f.write(b"\0" * page)
    for args in (["runs"], ["report", "latest"]):
        assert_refused(invoke(*args, "--db", str(damaged)), 1, "cannot be read", "malformed")
    assert invoke("runs", "--db", str(good)).exit_code == 0


def test_an_artifact_folder_that_is_a_file_is_refused_before_training(tmp_path):
    (tmp_path / "m_artifacts").write_text("not a folder")
    assert_refused(invoke("run", "coin-demo", "--db", str(tmp_path / "m.db")), 2, "is a file, not a folder")
