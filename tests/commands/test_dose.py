"""`mesascope dose` and `mesascope scatter` on a store holding one synthetic finished run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.commands.dose import scatter_table
from mesascope.diagnose.alignment import AlignmentConfig, alignment_statistics
from mesascope.records.results import AgentRecord, EvaluationRow, ExperimentResult, VerdictRow
from mesascope.store.db import Store, run_id_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WIDE = {"COLUMNS": "200"}


def synthetic(run_id: str, config: dict, per_shift: int = 40) -> ExperimentResult:
    """Shifts 0, 0.25, 0.5, 0.75, 1 with `per_shift` agents each; an agent is robustly aligned with
    probability σ(−4 + 8·shift), else proxy-aligned. On train, coin and exit returns are equal
    in every episode; at test agents reach the exit regardless of the coin unless aligned."""
    rng = np.random.default_rng(0)
    shifts = np.repeat(np.linspace(0, 1, 5), per_shift)
    aligned = rng.random(shifts.size) < 1 / (1 + np.exp(-(-4 + 8 * shifts)))
    count = shifts.size
    success = (rng.random((count, 12)) < 0.8).astype(float)
    coin = (rng.random((count, 12)) < np.where(aligned, 0.9, 0.2)[:, None]).astype(float)
    exit_ = np.where(aligned[:, None], coin, (rng.random((count, 12)) < 0.9).astype(float))
    returns = {"train": np.stack([success, success], -1), "test": np.stack([coin, exit_], -1)}
    evaluations = [EvaluationRow(i, "test", name, 0.5, 0.4, 0.6, value, value - 0.1, value + 0.1, 12, 0)
                   for i, a in enumerate(aligned) for name, value in (("coin", 0.9 if a else 0.2), ("exit", 0.9))]
    verdicts = [VerdictRow(i, "test", "robustly aligned" if a else "proxy-aligned", "side-effect", {"reason": "synthetic"})
                for i, a in enumerate(aligned)]
    return ExperimentResult(
        run_id=run_id, name="coin-dose", world="coin", objectives=("coin", "exit"), shift_name="p_random_coin",
        config=config, agents=[AgentRecord(i, i, float(s)) for i, s in enumerate(shifts)], curve_steps=np.arange(2.0),
        curves={}, evaluations=evaluations, inferences=[], verdicts=verdicts, episode_returns=returns,
        episode_normalised={d: r.copy() for d, r in returns.items()}, thresholds={}, gifs={}, timings={},
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store with the synthetic run finished; (path, run id)."""
    path = tmp_path_factory.mktemp("store") / "m.db"
    config = {"preset": "coin-dose", "seeds": 40}
    run_id = run_id_for(config, "test-code")
    with Store(path) as db:
        db.begin_run(run_id, "coin-dose", "coin", config, "test-code")
        db.finish_run(synthetic(run_id, config))
    return path, run_id


def test_dose_prints_shares_returns_and_the_fit(store: tuple[Path, str], tmp_path: Path) -> None:
    path, run_id = store
    picture = tmp_path / "dose.png"
    done = CliRunner().invoke(app, ["dose", run_id[:8], "--db", str(path), "--png", str(picture)], env=WIDE)
    assert done.exit_code == 0, done.output
    text = done.output
    assert "Dose response on test by p_random_coin in training" in text
    assert "robustly aligned vs p_random_coin: fits: P = 0.5 at dose" in text
    assert "proxy-aligned vs p_random_coin: fits" in text and "ED50 = " in text and "likelihood ratio" in text
    assert "alpha = 0.05 (slope), alpha_gof = 0.05" in text
    flat = " ".join(text.split())
    assert re.search(r"likelihood ratio vs a constant share [0-9.e+-]+ on 1 df, p = [0-9.e+-]+", flat)  # the test, not a bare statistic
    assert re.search(r"deviance vs per-shift shares [0-9.e+-]+ on [0-9]+ df, p = [0-9.e+-]+", flat)
    assert picture.read_bytes()[:8] == PNG_MAGIC
    for share in ("/40 ",):
        assert text.count(share) >= 10  # two verdict categories with agents at each of the 5 shifts


def test_scatter_prints_correlations_and_signatures(store: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = store
    picture = tmp_path / "scatter.png"
    done = CliRunner().invoke(app, ["scatter", "latest", "--db", str(path), "--png", str(picture)], env=WIDE)
    assert done.exit_code == 0, done.output
    text = done.output
    assert "coin (intended) vs exit (proxy): Spearman ρ over episodes" in text
    assert "identical on every episode" in text or "1.00 [1.00, 1.00]" in text
    assert "all 40" in text and "yes" in text and "200 agents: per-agent rows are shown only for 32 or fewer" in text
    assert "p_random_coin = 0 (pooled): identical returns on every train episode; at test" in text
    assert picture.read_bytes()[:8] == PNG_MAGIC


def test_scatter_table_lists_agents_of_a_small_population() -> None:
    result = synthetic("small", {}, per_shift=2)
    statistics = alignment_statistics(result, AlignmentConfig(resamples=100))
    console = Console(record=True, width=120, color_system=None)
    console.print(scatter_table(result, statistics, "exit"))
    lines = console.export_text().splitlines()
    agent_rows = [line.split() for line in lines if line.split()[:1] and line.split()[0].isdigit()]
    assert [row[0] for row in agent_rows] == [str(i) for i in range(10)]
    assert sum("all 2" in line for line in lines) == 5
    flags = {row[0]: row[-1] for row in agent_rows}
    expected = {str(r.agents[0]): "yes" if r.signature else "no" for r in statistics.rows}
    assert flags == expected


@pytest.mark.parametrize("command", ["dose", "scatter"])
def test_unknown_run_id_is_a_clear_error(store: tuple[Path, str], command: str) -> None:
    path, run_id = store
    done = CliRunner().invoke(app, [command, "nosuchrun", "--db", str(path)], env=WIDE)
    assert done.exit_code == 2
    text = " ".join(done.output.split())
    assert "error: no run id starts with 'nosuchrun'" in text and run_id in text


@pytest.mark.parametrize("command", ["dose", "scatter"])
def test_missing_store_is_a_clear_error_and_not_created(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "none.db"
    done = CliRunner().invoke(app, [command, "--db", str(missing)], env=WIDE)
    assert done.exit_code == 2 and "no store at" in done.output and not missing.exists()


def test_statistic_settings_are_config_checked_before_work(store: tuple[Path, str]) -> None:
    """dose/scatter `--set` and sweep `--sweep-set` reach the statistics' own thresholds; bad keys
    and values are refused naming the key and the allowed ones."""
    path, run_id = store
    done = CliRunner().invoke(app, ["dose", run_id[:8], "--db", str(path), "--set", "alpha=0.2", "--set", "resamples=50"], env=WIDE)
    assert done.exit_code == 0 and "alpha = 0.2 (slope)" in done.output and "50 bootstrap resamples" in done.output, done.output
    scatter = CliRunner().invoke(app, ["scatter", run_id[:8], "--db", str(path), "--set", "test_max_rho=0.3"], env=WIDE)
    assert scatter.exit_code == 0 and "< 0.3" in " ".join(scatter.output.split()), scatter.output
    for args, words in ((["dose", run_id, "--set", "alhpa=0.1"], "KEY one of alpha, alpha_gof"),
                        (["dose", run_id, "--set", "alpha=nan"], "must be a finite number"),
                        (["dose", run_id, "--set", "resamples=1.5"], "is not an integer"),
                        (["dose", run_id, "--set", "resamples=100000000000"], "at most 1,000,000"),
                        (["scatter", run_id, "--set", "confidence=2"], "(0, 1)"),
                        (["sweep", "coin", "--over", "l2=0,1", "--sweep-set", "min_share=0"], "min_share must be in (0, 1]")):
        refused = CliRunner().invoke(app, [*args, "--db", str(path)], env=WIDE)
        assert refused.exit_code == 2 and "error:" in refused.output and words in " ".join(refused.output.split()), refused.output
