"""The SQLite store: round trips, schema versioning, interrupted and finished runs, run ids."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mesascope.records.results import (
    AgentRecord,
    EvaluationRow,
    ExperimentResult,
    InferenceRow,
    InfluenceRecord,
    VerdictRow,
)
from mesascope.records.trajectory import TrajectoryRecord
from mesascope.records.trials import TrialRecord
from mesascope.store import db as store_db
from mesascope.store.db import (
    SCHEMA_VERSION,
    RunStatusError,
    SchemaVersionError,
    Store,
    StoreError,
    UnknownRunError,
    run_id_for,
)

NAN = float("nan")
CODE = "test-code-1"


def make_config(seed: int = 0) -> dict[str, Any]:
    return {"world": "keys", "seed": seed, "train": {"lr": 3e-4, "updates": 4}, "tags": ["a", "b"]}


def make_result(run_id: str, config: dict[str, Any], *, gifs: bool = True) -> ExperimentResult:
    rng = np.random.default_rng(0)
    A, U, N, K = 2, 4, 3, 5
    normalised = rng.normal(size=(A, N, K))
    normalised[0, 1, 2] = np.nan
    normalised[1, 0, :] = np.nan
    curve_return = rng.normal(size=(A, U)).astype(np.float32)
    curve_return[1, 2] = np.nan
    frames = rng.integers(0, 255, size=(4, 6, 7, 3), dtype=np.uint8)
    frames[2] = frames[1]  # identical consecutive frames: Pillow merges them in the GIF
    return ExperimentResult(
        run_id=run_id,
        name="keys-small",
        world="keys",
        objectives=("open_door", "collect_keys"),
        shift_name="key_density",
        config=config,
        agents=[AgentRecord(agent=0, seed=11, train_shift=0.0), AgentRecord(1, 12, 0.25)],
        curve_steps=np.array([0, 128, 256, 384], dtype=np.int64),
        curves={"return": curve_return, "loss": rng.normal(size=(A, U))},
        evaluations=[
            EvaluationRow(0, "train", "open_door", 1.5, 1.0, 2.0, 0.5, 0.25, 0.75, 64, 0),
            EvaluationRow(1, "test", "collect_keys", -0.1, -1.0, NAN, NAN, NAN, NAN, 64, 64),
        ],
        inferences=[
            InferenceRow(0, "test", "open_door", 2.0, -0.5, -0.6, -0.4, 0.9, 0.8, 1.0),
            InferenceRow(0, "test", "random", NAN, -1.6, -1.6, -1.6, 0.1, 0.0, 0.2),
        ],
        verdicts=[
            VerdictRow(0, "test", "aligned", "robust",
                       {"gap": 0.1, "ci": [0.0, 0.2], "nan": NAN, "note": "ok", "n": 3}),
            VerdictRow(1, "test", "misgeneralised", "proxy", {}),
        ],
        episode_returns={
            "train": rng.normal(size=(A, N, K)),
            "test": rng.normal(size=(A, N, K)).astype(np.float32),
        },
        episode_normalised={"train": normalised, "test": normalised[:, :2]},
        thresholds={"aligned": 0.8, "margin": 0.05},
        gifs={"agent 0 / test": frames, "agent 1": frames[:1]} if gifs else {},
        timings={"train": 1.25, "evaluate": 0.5},
    )


def same_value(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN, recursing into containers and dataclasses."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
            and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and same_value(dataclasses.asdict(a), dataclasses.asdict(b))
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(same_value(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b)))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def begin(store: Store, config: dict[str, Any] | None = None) -> str:
    config = make_config() if config is None else config
    run_id = run_id_for(config, CODE)
    store.begin_run(run_id, "keys-small", "keys", config, CODE)
    return run_id


def count_rows(store: Store, run_id: str) -> dict[str, int]:
    tables = ["agents", "curves", "evaluations", "inferences", "verdicts", "artifacts"]
    return {
        t: store.conn.execute(f"SELECT count(*) FROM {t} WHERE run_id=?", (run_id,)).fetchone()[0]
        for t in tables
    }


def test_round_trip_is_exact(tmp_path: Path) -> None:
    with Store(tmp_path / "mesascope.db") as store:
        run_id = begin(store)
        rng = np.random.default_rng(1)
        trials = TrialRecord({"train": rng.normal(size=(2, 4, 3, 5))}, {"train": np.where(rng.random((2, 4, 3, 5)) < 0.2, np.nan, 0.5)})
        original = dataclasses.replace(make_result(run_id, make_config()), trials=trials)
        store.finish_run(original)
        assert store.status(run_id) == "finished"
    with Store(tmp_path / "mesascope.db") as store:  # a fresh connection reads the same
        loaded = store.load_result(run_id)

    for f in dataclasses.fields(ExperimentResult):
        if f.name == "gifs":
            continue
        assert same_value(getattr(original, f.name), getattr(loaded, f.name)), f.name
    assert math.isnan(loaded.evaluations[1].mean_normalised)
    assert math.isnan(loaded.verdicts[0].evidence["nan"])
    assert np.isnan(loaded.episode_normalised["train"][1, 0]).all()
    assert list(loaded.gifs) == list(original.gifs)
    for caption, frames in original.gifs.items():
        assert loaded.gifs[caption].shape == frames.shape
        assert loaded.gifs[caption].dtype == np.uint8
    # GIF palettes are lossy in general, but these few colours come back close.
    assert np.abs(loaded.gifs["agent 1"].astype(int) - original.gifs["agent 1"]).mean() < 40


def test_same_value_helper_detects_differences() -> None:
    r = make_result("abc", make_config())
    other = dataclasses.replace(r.evaluations[0], return_low=1.0000001)
    assert not same_value(r.evaluations[0], other)
    assert not same_value(np.zeros(3, np.float32), np.zeros(3, np.float64))
    assert not same_value({"a": NAN}, {"a": 0.0})
    assert same_value({"a": NAN}, {"a": float("nan")})


def test_files_on_disk_and_default_artifact_root(tmp_path: Path) -> None:
    with Store(tmp_path / "mesascope.db") as store:
        assert store.artifact_root == tmp_path / "mesascope_artifacts"
        run_id = begin(store)
        store.finish_run(make_result(run_id, make_config()))
        mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        records = store.conn.execute(
            "SELECT kind, path, bytes FROM artifacts WHERE run_id=?", (run_id,)
        ).fetchall()
    assert sorted(kind for kind, _, _ in records) == ["episodes", "gif", "gif"]
    files = sorted(p for p in (tmp_path / "mesascope_artifacts").rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".safetensors", ".gif"}
    assert not [p for p in files if p.name.endswith(".tmp")]
    for _, rel, size in records:
        path = tmp_path / "mesascope_artifacts" / rel
        assert path.stat().st_size == size
        data = path.read_bytes()
        if path.suffix == ".safetensors":  # u64 header length, then a JSON header
            header_len = int.from_bytes(data[:8], "little")
            assert json.loads(data[8 : 8 + header_len])["__metadata__"]["returns"]
        else:
            assert data[:6] == b"GIF89a"


def test_row_columns_mirror_the_dataclasses(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        for table, cls in store_db.ROW_TABLES.items():
            columns = {r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")}
            for f in dataclasses.fields(cls):
                name = f"{f.name}_json" if str(f.type).startswith("dict") else f.name
                assert name in columns, (table, name)
        run_columns = {r[1] for r in store.conn.execute("PRAGMA table_info(runs)")}
    assert {"objectives_json", "shift_name", "thresholds_json", "timings_json"} <= run_columns


def test_schema_version_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Store(path) as store:
        assert store.conn.execute("SELECT version FROM schema_version").fetchall() == [
            (SCHEMA_VERSION,)
        ]
    schema = (Path(store_db.__file__).with_name("schema.sql")).read_text()
    assert f"SELECT {SCHEMA_VERSION} WHERE NOT EXISTS" in schema

    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version=?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}.*newer"):
        Store(path)

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE foo (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a mesascope store"):
        Store(other)

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        Store(junk)


def test_reopening_keeps_data_and_version(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
    with Store(tmp_path / "m.db") as store:
        assert store.status(run_id) == "running"
        assert store.conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1


def abandon(store: Store, run_id: str) -> None:
    """Make the owner of a running run a process that no longer exists (as after a crash)."""
    store.conn.execute("UPDATE runs SET owner_pid=? WHERE run_id=?", (dead_pid(), run_id))


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_crash_before_commit_leaves_run_unfinished_and_rerun_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.db"
    store = Store(path)
    run_id = begin(store)
    result = make_result(run_id, make_config())

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash before commit")

    monkeypatch.setattr(Store, "_mark_finished", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.finish_run(result)
    monkeypatch.undo()
    # Artifact files were written, but no row of the failed transaction is visible.
    assert (store.artifact_root / run_id / "episodes.safetensors").is_file()
    assert store.status(run_id) == "running"
    assert set(count_rows(store, run_id).values()) == {0}
    store.close()

    with Store(path) as store:  # as a fresh process would see it
        assert store.status(run_id) == "running"
        with pytest.raises(RunStatusError, match=f"{run_id}.*'running'"):
            store.load_result(run_id)
        with pytest.raises(UnknownRunError, match="no finished run"):
            store.resolve("latest")
        abandon(store, run_id)  # the crashed process is gone
        store.begin_run(run_id, "keys-small", "keys", make_config(), CODE)
        assert not (store.artifact_root / run_id).exists()  # the stale files are gone
        store.finish_run(result)
        assert store.status(run_id) == "finished"
        assert same_value(store.load_result(run_id).evaluations, result.evaluations)
        assert count_rows(store, run_id)["curves"] == 2 * 2 * 4


def test_process_killed_inside_the_transaction(tmp_path: Path) -> None:
    # A real crash: the writing process dies with the transaction open (no rollback runs).
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_db import begin, make_config, make_result
        from mesascope.store.db import Store
        store = Store({str(tmp_path / "m.db")!r})
        run_id = begin(store)
        Store._mark_finished = lambda *a, **k: os._exit(3)
        store.finish_run(make_result(run_id, make_config()))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 3, proc.stderr.decode()
    with Store(tmp_path / "m.db") as store:
        run_id = run_id_for(make_config(), CODE)
        assert store.status(run_id) == "running"
        assert set(count_rows(store, run_id).values()) == {0}
        with pytest.raises(RunStatusError):
            store.load_result(run_id)
        begin(store)
        store.finish_run(make_result(run_id, make_config()))
        assert store.load_result(run_id).thresholds == {"aligned": 0.8, "margin": 0.05}


def test_crash_midway_through_inserts_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        calls = []
        original = Store._insert_rows

        def insert_then_crash(self: Store, conn: Any, table: str, rid: str, rows: Any) -> None:
            original(self, conn, table, rid, rows)
            calls.append(table)
            if len(calls) == 2:
                raise KeyboardInterrupt  # e.g. Ctrl-C between two inserts

        monkeypatch.setattr(Store, "_insert_rows", insert_then_crash)
        with pytest.raises(KeyboardInterrupt):
            store.finish_run(make_result(run_id, make_config()))
        assert store.status(run_id) == "running"
        assert set(count_rows(store, run_id).values()) == {0}


def test_failed_run_is_restarted(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        store.mark_failed(run_id, "diverged: loss is NaN")
        assert store.status(run_id) == "failed"
        with pytest.raises(RunStatusError, match="failed.*diverged"):
            store.load_result(run_id)
        with pytest.raises(RunStatusError, match="not 'running'"):
            store.finish_run(make_result(run_id, make_config()))
        begin(store)
        assert store.status(run_id) == "running"
        store.finish_run(make_result(run_id, make_config()))
        assert store.status(run_id) == "finished"
        with pytest.raises(RunStatusError, match="already finished"):
            store.mark_failed(run_id, "late")
        with pytest.raises(UnknownRunError):
            store.mark_failed("nope", "x")


def test_finished_run_is_reused_not_overwritten(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        store.finish_run(make_result(run_id, make_config(), gifs=False))
        with pytest.raises(RunStatusError, match=f"{run_id} already finished"):
            begin(store)
        assert store.status(run_id) == "finished"
        assert store.load_result(run_id).gifs == {}
        with pytest.raises(RunStatusError):
            store.finish_run(make_result(run_id, make_config()))
        assert store.status("000000000000") is None


def test_finish_run_checks_its_input(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        with pytest.raises(UnknownRunError, match="never begun"):
            store.finish_run(make_result("abc", make_config()))
        run_id = begin(store)
        good = make_result(run_id, make_config())
        bad_curve = dataclasses.replace(good, curves={"return": np.zeros((2, 3))})
        with pytest.raises(ValueError, match=r"curves\['return'\].*U = len\(curve_steps\) = 4"):
            store.finish_run(bad_curve)
        bad_row = dataclasses.replace(
            good, evaluations=[dataclasses.replace(good.evaluations[0], episodes=1.5)]
        )
        with pytest.raises(TypeError, match=r"evaluations\[0\]\.episodes"):
            store.finish_run(bad_row)
        bad_gif = dataclasses.replace(good, gifs={"g": np.zeros((2, 4, 4, 3), np.float32)})
        with pytest.raises(TypeError, match=r"gifs\['g'\].*uint8"):
            store.finish_run(bad_gif)
        with pytest.raises(ValueError, match="result.config differs"):
            store.finish_run(make_result(run_id, make_config(seed=5)))
        with pytest.raises(ValueError, match="run id"):
            store.begin_run("../evil", "n", "w", {}, CODE)
        assert store.status(run_id) == "running"
        # NumPy scalars are accepted where Python numbers are expected.
        numpyish = dataclasses.replace(
            good,
            agents=[AgentRecord(np.int64(0), np.int32(11), np.float32(0.5))],
            thresholds={"aligned": np.float64(0.8)},
        )
        store.finish_run(numpyish)
        loaded = store.load_result(run_id)
        assert loaded.agents == [AgentRecord(0, 11, 0.5)]
        assert loaded.thresholds == {"aligned": 0.8}


def test_run_id_is_a_stable_hash_of_config_and_code() -> None:
    config = make_config()
    reordered = dict(reversed(list(config.items())))
    assert run_id_for(config, CODE) == run_id_for(reordered, CODE)
    assert len(run_id_for(config, CODE)) == 12
    assert all(c in "0123456789abcdef" for c in run_id_for(config, CODE))
    assert run_id_for(config, CODE) != run_id_for(config, "test-code-2")
    assert run_id_for(config, CODE) != run_id_for(make_config(seed=1), CODE)
    assert run_id_for({"x": np.int64(3)}, CODE) == run_id_for({"x": 3}, CODE)


def test_resolve_list_and_unknown(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        with pytest.raises(UnknownRunError, match="holds no runs"):
            store.load_result("abc")
        ids = []
        for seed in range(3):
            run_id = begin(store, make_config(seed))
            ids.append(run_id)
            if seed < 2:
                store.finish_run(make_result(run_id, make_config(seed), gifs=False))
        assert [r["run_id"] for r in store.list_runs()] == ids[::-1]
        assert [r["status"] for r in store.list_runs()] == ["running", "finished", "finished"]
        assert set(store.list_runs()[0]) == {
            "run_id", "name", "world", "status", "created_at", "finished_at"
        }
        assert store.resolve("latest") == ids[1]  # the newest *finished* run
        for run_id in ids:
            assert store.resolve(run_id) == run_id
            assert store.resolve(run_id[:8]) == run_id
        with pytest.raises(UnknownRunError, match="no run id starts with 'zz'.*" + ids[2]):
            store.resolve("zz")
        with pytest.raises(UnknownRunError, match="empty"):
            store.resolve("")
        with pytest.raises(UnknownRunError, match="ambiguous"):
            store.resolve(_common_prefix(store, ids))
        with pytest.raises(UnknownRunError) as err:
            store.load_result("nonexistent")
        assert all(run_id in str(err.value) for run_id in ids)


def _common_prefix(store: Store, ids: list[str]) -> str:
    # Add runs until two ids share a first hex digit, and return that digit.
    seen: dict[str, str] = {}
    for run_id in ids:
        if run_id[0] in seen:
            return run_id[0]
        seen[run_id[0]] = run_id
    seed = 100
    while True:
        run_id = begin(store, make_config(seed))
        if run_id[0] in seen:
            return run_id[0]
        seen[run_id[0]] = run_id
        seed += 1


def test_known_ids_listing_is_capped(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        for seed in range(13):
            begin(store, make_config(seed))
        with pytest.raises(UnknownRunError, match=r"and 3 more") as err:
            store.resolve("latest")
        listed = str(err.value).split("newest first: ")[1].split(" (and")[0].split(", ")
        assert len(listed) == 10


def test_store_never_pickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle or np.save/np.load used")

    for name in ("dump", "dumps", "load", "loads"):
        monkeypatch.setattr(pickle, name, forbidden)
    for name in ("save", "savez", "savez_compressed", "load"):
        monkeypatch.setattr(np, name, forbidden)
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        store.finish_run(make_result(run_id, make_config()))
        store.load_result(run_id)
    sources = Path(store_db.__file__).parent
    for source in ("db.py", "artifacts.py"):
        text = (sources / source).read_text()
        for word in ("import pickle", "allow_pickle", "np.savez", "np.load(", "np.save("):
            assert word not in text, (source, word)


def test_load_refuses_corrupt_artifacts(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        store.finish_run(make_result(run_id, make_config()))
        path = store.artifact_root / run_id / "episodes.safetensors"
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(StoreError, match="episodes.*corrupt"):
            store.load_result(run_id)
        path.unlink()
        with pytest.raises(StoreError, match="missing"):
            store.load_result(run_id)


def test_curves_table_is_queryable(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        result = make_result(run_id, make_config())
        store.finish_run(result)
        rows = store.conn.execute(
            "SELECT step, value FROM curves WHERE run_id=? AND metric='loss' AND agent=1 "
            "ORDER BY u",
            (run_id,),
        ).fetchall()
        assert [s for s, _ in rows] == [0, 128, 256, 384]
        assert [v for _, v in rows] == result.curves["loss"][1].tolist()
        thresholds = json.loads(store.conn.execute(
            "SELECT thresholds_json FROM runs WHERE run_id=?", (run_id,)
        ).fetchone()[0])
        assert thresholds == result.thresholds


def make_influence(agents: int = 2, checkpoints: int = 3) -> InfluenceRecord:
    """A synthetic influence record: 2 kinds, NaN for a kind never probed, a 5x5 display level."""
    rng = np.random.default_rng(1)
    share = rng.random((agents, checkpoints, 2, 2))
    share[:, :, 1] = NAN
    maps = rng.random((agents, checkpoints, 2, 2, 5, 5))
    maps[..., 0, :] = NAN
    return InfluenceRecord(
        kinds=("coin", "exit"), interventions=("remove", "move"), action_names=("up", "right", "down", "left"),
        distribution="test", levels=8, steps=np.array([100, 200, 300], np.int64), share=share, share_low=share - 0.1,
        share_high=share + 0.1, pairs=np.array([40, 0], np.int64), cell_maps=maps,
        action_probs=rng.dirichlet(np.ones(4), (agents, checkpoints, 5, 5)),
        picture=rng.integers(0, 255, (40, 40, 3), dtype=np.uint8),
    )


def test_influence_round_trips_and_runs_without_it_still_load(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        original = dataclasses.replace(make_result(run_id, make_config()), influence=make_influence())
        store.finish_run(original)
        loaded = store.load_result(run_id)
        assert same_value(original.influence, loaded.influence)
        kinds = [r[0] for r in store.conn.execute("SELECT kind FROM artifacts WHERE run_id=?", (run_id,))]
        assert kinds.count("influence") == 1
        old_id = begin(store, make_config(seed=1))  # a run stored without influence
        store.finish_run(make_result(old_id, make_config(seed=1)))
        assert store.load_result(old_id).influence is None
        bad_id = begin(store, make_config(seed=2))
        with pytest.raises(TypeError, match="result.influence"):
            store.finish_run(dataclasses.replace(make_result(bad_id, make_config(seed=2)), influence={"share": np.zeros(2)}))


def test_trajectory_round_trips_through_arrays_and_the_store(tmp_path: Path, synthetic_trajectory) -> None:
    found = synthetic_trajectory([["proxy-aligned", "proxy-aligned", "robustly aligned"],
                                  ["ambiguous", "mixed", "proxy-aligned"],
                                  ["capability failure", "capability failure", "robustly aligned"]])
    arrays, metadata = found.to_arrays()
    assert set(arrays) == {"steps"} and arrays["steps"].dtype == np.int64  # strings travel as JSON metadata
    again = TrajectoryRecord.from_arrays(arrays, metadata)
    assert same_value(found, again) and again.verdicts.shape == (3, 3)
    assert found.proxy_first() == (2, 1, 0)  # agent 0 turned aligned later; agent 1 read as mixed before proxy-aligned
    assert found.counts("robustly aligned").tolist() == [0, 0, 2]
    np.testing.assert_array_equal(found.first_step("proxy-aligned"), [100.0, 300.0, NAN])
    with pytest.raises(ValueError, match="verdicts must have shape"):
        TrajectoryRecord("test", (0,), np.array([1, 2]), np.array([["a"]], object), np.array([["a"]], object), np.array([["a"]], object))
    with Store(tmp_path / "m.db") as store:
        run_id = begin(store)
        store.finish_run(dataclasses.replace(make_result(run_id, make_config()), trajectory=found))
        assert same_value(found, store.load_result(run_id).trajectory)
        old_id = begin(store, make_config(seed=1))  # a run stored without a trajectory
        store.finish_run(make_result(old_id, make_config(seed=1)))
        assert store.load_result(old_id).trajectory is None
