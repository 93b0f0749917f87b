"""`mesascope export`: tidy tables of a run or a sweep that pandas loads as they are, matching the
store; csv and json without pandas; bad input is a clear error before anything is written."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.records.results import AgentRecord, EvaluationRow, ExperimentResult, InferenceRow, VerdictRow
from mesascope.store.db import Store, run_id_for

WIDE = {"COLUMNS": "200"}
READ = {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}


def synthetic(run_id: str, name: str, width: int) -> ExperimentResult:
    """Three agents (two shifts), train and test, coin and exit, five episodes, NaN normalised returns."""
    rng = np.random.default_rng(width)
    distributions, objectives = ("train", "test"), ("coin", "exit")
    returns = {d: rng.integers(0, 2, (3, 5, 2)).astype(float) for d in distributions}
    normalised = {d: np.where(r > 0, r * 0.9, np.nan) for d, r in returns.items()}
    evaluations = [EvaluationRow(a, d, o, rng.random(), 0.1, 0.9, rng.random(), 0.0, 1.0, 5, a)
                   for a in range(3) for d in distributions for o in objectives]
    inferences = [InferenceRow(a, d, h, 1.5, -1.2, -1.4, -1.0, 0.5, 0.4, 0.6)
                  for a in range(3) for d in distributions for h in (*objectives, "random")]
    verdicts = [VerdictRow(a, d, ("robustly aligned", "proxy-aligned", "capability failure")[(a + width) % 3], "side-effect",
                           {"reason": "synthetic", "posterior": {"coin": 0.25 * a, "exit": 1 - 0.25 * a}, "steps": 40 + a,
                            "alignment": float("nan") if a == 2 else 0.5, "thresholds": {"min_support": 0.9}})
                for a in range(3) for d in distributions]
    return ExperimentResult(
        run_id=run_id, name=name, world="coin", objectives=objectives, shift_name="p_random_coin",
        config={"name": name, "width": width}, agents=[AgentRecord(a, 10 + a, (0.0, 0.0, 0.3)[a]) for a in range(3)],
        curve_steps=np.arange(2.0), curves={}, evaluations=evaluations, inferences=inferences, verdicts=verdicts,
        episode_returns=returns, episode_normalised=normalised, thresholds={"min_support": 0.9, "aligned_min_normalised": 0.5},
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A store with one plain run and a two-value sweep over ppo.width; (path, name -> run id)."""
    path = tmp_path_factory.mktemp("store") / "m.db"
    ids = {}
    with Store(path) as db:
        for name, width in (("plain", 8), ("cap[ppo.width=32]", 32), ("cap[ppo.width=16]", 16)):
            config = {"name": name, "width": width}
            run_id = run_id_for(config, "test-code")
            db.begin_run(run_id, name, "coin", config, "test-code")
            db.finish_run(synthetic(run_id, name, width))
            ids[name] = run_id
    return path, ids


def export(path: Path, *args: str):
    return CliRunner().invoke(app, ["export", *args, "--db", str(path)], env=WIDE)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_run_tables_round_trip_through_pandas(store, tmp_path: Path, fmt: str) -> None:
    path, ids = store
    done = export(path, ids["plain"], "--format", fmt, "--out", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    with Store(path) as db:
        result = db.load_result(ids["plain"])
    tables = {name: READ[fmt](tmp_path / "out" / f"{name}.{fmt}") for name in ("runs", "agents", "returns", "episodes", "inferences", "verdicts")}

    returns = tables["returns"].set_index(["agent", "distribution", "objective"])
    assert len(returns) == len(result.evaluations) == 3 * 2 * 2  # agent x distribution x objective
    for row in result.evaluations:
        got = returns.loc[(row.agent, row.distribution, row.objective)]
        assert got["mean_return"] == pytest.approx(row.mean_return) and got["undefined"] == row.undefined
        assert got["run_id"] == ids["plain"]

    episodes = tables["episodes"]
    assert len(episodes) == sum(r.size for r in result.episode_returns.values())
    for distribution, returns_array in result.episode_returns.items():
        part = episodes[(episodes.distribution == distribution) & (episodes.objective == "exit")].sort_values(["agent", "episode"])
        np.testing.assert_allclose(part["return"].to_numpy(), returns_array[..., 1].reshape(-1))
        np.testing.assert_allclose(part["normalised"].to_numpy(float), result.episode_normalised[distribution][..., 1].reshape(-1))  # NaN kept

    verdicts = tables["verdicts"].set_index(["agent", "distribution"])
    for row in result.verdicts:
        got = verdicts.loc[(row.agent, row.distribution)]
        assert got["verdict"] == row.verdict and got["category"] == row.verdict
        assert got["evidence.posterior.coin"] == pytest.approx(row.evidence["posterior"]["coin"])
        assert got["evidence.steps"] == row.evidence["steps"] and got["threshold.min_support"] == 0.9
        assert np.isnan(got["evidence.alignment"]) if row.agent == 2 else got["evidence.alignment"] == 0.5
    np.testing.assert_allclose(tables["agents"]["train_shift"], [a.train_shift for a in result.agents])  # read_json rounds at 1e-16
    assert len(tables["inferences"]) == len(result.inferences)
    assert tables["runs"].loc[0, "objectives"] == "coin;exit"


def test_sweep_exports_cells_with_knob_values(store, tmp_path: Path) -> None:
    path, ids = store
    done = export(path, "cap", "--format", "csv", "--out", str(tmp_path))
    assert done.exit_code == 0, done.output
    cells = pd.read_csv(tmp_path / "sweep_cells.csv")
    assert list(cells["sweep_value"]) == [16, 16, 32, 32]  # numeric order, one row per value x distribution
    assert set(cells["sweep_key"]) == {"ppo.width"} and list(cells["distribution"]) == ["train", "test"] * 2
    assert list(cells["run_id"]) == [ids["cap[ppo.width=16]"]] * 2 + [ids["cap[ppo.width=32]"]] * 2
    width16 = cells.iloc[0]  # (a + 16) % 3: agents 0,1,2 -> capability failure, robustly aligned, proxy-aligned
    assert (width16["verdicts.robustly aligned"], width16["verdicts.proxy-aligned"], width16["verdicts.capability failure"]) == (1, 1, 1)
    returns = pd.read_csv(tmp_path / "returns.csv")
    assert len(returns) == 2 * 12 and set(returns["sweep_value"]) == {16, 32}


def test_csv_and_json_need_no_pandas(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, ids = store
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    for fmt in ("csv", "json"):
        assert export(path, ids["plain"], "--format", fmt, "--out", str(tmp_path)).exit_code == 0
    done = export(path, ids["plain"], "--format", "parquet", "--out", str(tmp_path / "p"))
    assert done.exit_code == 2 and "mesascope[export]" in done.output and not (tmp_path / "p").exists()


def test_bad_input_is_a_clear_error(store, tmp_path: Path) -> None:
    path, _ = store
    done = export(path, "nosuchrun", "--out", str(tmp_path / "a"))
    assert done.exit_code == 2 and "error:" in done.output and "no finished sweep is named 'nosuchrun'" in " ".join(done.output.split())
    assert "cap[ppo.width]" in done.output and not (tmp_path / "a").exists()
    done = export(path, "latest", "--format", "xlsx", "--out", str(tmp_path / "b"))
    assert done.exit_code == 2 and "--format must be one of csv, json, parquet" in done.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = export(path, "latest", "--out", str(blocker / "inside"))
    assert done.exit_code == 2 and "is not a writable folder" in " ".join(done.output.split())
    done = export(tmp_path / "none.db", "latest", "--out", str(tmp_path / "c"))
    assert done.exit_code == 2 and "no store at" in done.output


def test_the_store_can_be_named_by_the_environment(store, tmp_path: Path) -> None:
    """MESASCOPE_DB names the store for every command (a cluster job sets it once); --db wins."""
    path, ids = store
    done = CliRunner().invoke(app, ["export", ids["plain"], "--out", str(tmp_path / "env")], env={**WIDE, "MESASCOPE_DB": str(path)})
    assert done.exit_code == 0, done.output
    assert (tmp_path / "env" / "returns.csv").exists()
    done = CliRunner().invoke(app, ["export", ids["plain"], "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "x")], env={**WIDE, "MESASCOPE_DB": str(path)})
    assert done.exit_code == 2 and "no store at" in done.output


def test_sweep_run_names_with_several_static_axes_parse_as_one_composite_key():
    from mesascope.report.export import parse_sweep_name

    assert parse_sweep_name("coin[ppo.width=16]") == {"base": "coin", "key": "ppo.width", "value": "16"}
    assert parse_sweep_name("coin[ppo.width=16,ppo.depth=1]") == {"base": "coin", "key": "ppo.width,ppo.depth", "value": "16,1"}
    assert parse_sweep_name("coin-demo") is None and parse_sweep_name("coin[oops]") is None


def test_a_sweep_id_never_reaches_outside_the_sweeps_folder(tmp_path):
    from mesascope.report.export import MANIFEST, find_sweep_by_id
    from mesascope.store.db import Store

    with Store(tmp_path / "m.db") as store:
        (store.artifact_root / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
        (store.artifact_root / MANIFEST).write_text('{"runs": [{"label": "", "run_id": "nosuchrun000"}]}')
        assert find_sweep_by_id(store, "..") == [] and find_sweep_by_id(store, "../sweeps") == [] and find_sweep_by_id(store, "") == []
