"""Real processes against one store (issue 9): a run terminated or killed at every stage is
redone by the next invocation, the database stays intact and nothing partial reads as finished;
a second identical invocation refuses clearly while the first is alive, and reuses its result
afterwards. Processes are started fresh (never forked after JAX) and share a persistent JAX
compilation cache, so only the first compiles."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesascope.store.db import RunStatusError, Store

ARGS = ["run", "coin", "--seeds", "1", "--steps", "2048", "--set", "train_shifts=0", "--set", "ppo.num_envs=8",
        "--set", "ppo.num_steps=16", "--set", "eval.episodes=4", "--set", "eval.bootstrap=20", "--set", "eval.gifs=1",
        "--set", "eval.checkpoints=2", "--set", "eval.influence_levels=4", "--set", "eval.identify_levels=4"]


def launch(db: Path, log: Path, cache: Path, hold: str = "") -> subprocess.Popen:
    """A `mesascope run` process logging its stages to `log`; with `hold`, it stops itself
    (SIGSTOP) as that stage starts, so the kill lands exactly there."""
    env = {**os.environ, "MESASCOPE_STAGE_LOG": str(log), "MESASCOPE_STAGE_HOLD": hold, "JAX_COMPILATION_CACHE_DIR": str(cache),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
           "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "mesascope.cli", *ARGS, "--db", str(db)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_stage(process: subprocess.Popen, log: Path, stage: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not (log.exists() and stage in log.read_text().split()):
        assert process.poll() is None, f"exited before stage {stage}: {process.stdout.read()}"
        assert time.monotonic() < deadline, f"stage {stage} never started"
        time.sleep(0.05)


def intact(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


def only_run(db: Path) -> tuple[str, str]:
    with Store(db, readonly=True) as store:
        (row,) = store.list_runs()
        if row["status"] != "finished":
            with pytest.raises(RunStatusError):
                store.load_result(row["run_id"])  # nothing partial reads as finished
        return row["run_id"], row["status"]


@pytest.mark.timeout(900)
def test_runs_killed_at_every_stage_are_redone_and_a_live_run_is_never_destroyed(tmp_path):
    db, cache = tmp_path / "m.db", tmp_path / "jax-cache"

    # SIGTERM is handled like Ctrl-C: the run is marked failed, not left running.
    log = tmp_path / "term.log"
    first = launch(db, log, cache)
    wait_for_stage(first, log, "train")
    first.send_signal(signal.SIGSTOP)  # hold it mid-run (alive) while a second one starts
    second = launch(db, tmp_path / "second.log", cache)  # an identical invocation meanwhile
    refused = second.communicate(timeout=240)[0]
    first.send_signal(signal.SIGCONT)
    assert second.returncode == 1, refused
    assert "being computed by another mesascope process" in " ".join(refused.split())
    assert "Traceback" not in refused
    first.send_signal(signal.SIGTERM)
    output = first.communicate(timeout=240)[0]
    assert first.returncode == 130, output
    run_id, status = only_run(db)
    assert status == "failed"
    intact(db)

    for stage in ("train", "evaluate", "diagnose", "store", "report"):
        log = tmp_path / f"{stage}.log"
        process = launch(db, log, cache, hold=stage)
        wait_for_stage(process, log, stage)
        process.kill()
        process.wait(timeout=60)
        intact(db)
        assert only_run(db) == (run_id, "finished" if stage == "report" else "running")
        if stage == "store":  # params and checkpoints of this attempt, to compare with the next
            run_dir = tmp_path / "m_artifacts" / run_id
            attempt = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run_dir.glob("*") if p.name.startswith(("params", "checkpoints"))}

    log = tmp_path / "final.log"
    final = launch(db, log, cache)
    output = final.communicate(timeout=300)[0]
    assert final.returncode == 0, output
    assert "already finished: reusing it" in output  # killed while writing its report: kept
    # nothing was computed again: at most the report, if the kill came before it was written
    assert (log.read_text().split() if log.exists() else []) in ([], ["report"])
    intact(db)
    with Store(db, readonly=True) as store:
        result = store.load_result(run_id)
        assert len(result.agents) == 1
        assert (store.run_dir(run_id) / "report.html").stat().st_size > 10_000
        recorded = dict(store.conn.execute("SELECT name, sha256 FROM artifacts WHERE run_id=? AND kind='file'", (run_id,)).fetchall())
    # two computations of the same config (killed at 'store', then finished) wrote identical bytes
    assert len(attempt) >= 5 and recorded == attempt
