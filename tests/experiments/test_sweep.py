"""Sweeps of trained agents: configs built and validated before any work, runs reused, the
CLI end to end on a tiny sweep, and its report."""

import re

import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.experiments import config as C
from mesascope.experiments import presets
from mesascope.experiments.config import ConfigError, ExperimentConfig
from mesascope.experiments.sweep import Sweep, parse_over, run_sweep
from mesascope.store.db import Store

TINY = ["world_options.size=7", "world_options.layout=open", "train_shifts=0", "seeds=2", "ppo.total_steps=512", "ppo.num_envs=8",
        "ppo.num_steps=32", "ppo.minibatches=2", "eval.episodes=6", "eval.bootstrap=20", "eval.gifs=0"]


@pytest.fixture
def base() -> ExperimentConfig:
    return C.apply_overrides(ExperimentConfig(name="tiny"), TINY)


def test_configs_differ_only_in_the_swept_key_and_are_named_after_it(base):
    configs = Sweep(base, "ppo.width", ("16", "32")).configs()
    assert [c.ppo.width for c in configs] == [16, 32]
    assert [c.name for c in configs] == ["tiny[ppo.width=16]", "tiny[ppo.width=32]"]
    assert configs[0].ppo.total_steps == configs[1].ppo.total_steps == 512
    assert Sweep(base, "ppo.width", ("16", "32")).numeric_values() == [16.0, 32.0]
    assert Sweep(base, "ppo.anneal_lr", ("true", "false")).numeric_values() is None


def test_sweep_id_depends_on_base_key_and_values(base):
    a = Sweep(base, "l2", ("0", "0.01"))
    assert a.sweep_id() == Sweep(base, "l2", ("0", "0.01")).sweep_id()
    assert a.sweep_id() != Sweep(base, "l2", ("0", "0.1")).sweep_id()
    assert a.sweep_id() != Sweep(base, "l1", ("0", "0.01")).sweep_id()


@pytest.mark.parametrize(
    "key, values, words",
    [
        ("ppo.width", ("16",), "at least two values"),
        ("ppo.width", ("16", "16"), "repeat"),
        ("ppo.wdth", ("16", "32"), "unknown config key 'ppo.wdth'"),
        ("ppo.width", ("16", "wide"), "ppo.width must be an integer"),
        ("train_shifts", ("0", "0.3"), "already a list inside each experiment"),
        ("world_options.size", ("7", "4"), "size"),
    ],
)
def test_bad_sweeps_fail_before_any_work(base, key, values, words):
    with pytest.raises(ConfigError) as error:
        Sweep(base, key, values).configs()
    assert words in str(error.value)


def test_parse_over():
    assert parse_over("ppo.width=16, 32,64") == ("ppo.width", ("16", "32", "64"))
    with pytest.raises(ConfigError, match="key=value1,value2"):
        parse_over("ppo.width")


def test_cli_sweep_writes_a_report_and_a_second_sweep_reuses_the_runs(tmp_path):
    db, out = tmp_path / "cli.db", tmp_path / "sweep.html"
    args = ["sweep", "coin", "--over", "ppo.width=8,16", "--db", str(db), "--out", str(out)] + [x for s in TINY for x in ("--set", s)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "sweep verdicts" in result.output and "sweep report:" in result.output
    page = out.read_text()
    assert "Sweep verdicts" in page and "approximate alignment" in page and "suboptimality alignment" in page
    assert page.count("data:image/png;base64,") == 3
    sweep = Sweep(C.apply_overrides(presets.get("coin"), TINY), "ppo.width", ("8", "16"))
    with Store(db) as store:
        again = run_sweep(sweep, store)
    assert again.reused == [True, True]
    assert [r.config["ppo"]["width"] for r in again.results] == [8, 16]
    sweep_id = re.search(r"mesascope export (\S+) --db", result.output)[1]  # exported by the id it printed
    exported = CliRunner().invoke(app, ["export", sweep_id, "--db", str(db), "--out", str(tmp_path / "tables")])
    assert exported.exit_code == 0 and "(2 runs)" in exported.output, exported.output
    cells = (tmp_path / "tables" / "sweep_cells.csv").read_text()
    assert "ppo.width,8," in cells and "ppo.width,16," in cells and again.results[0].run_id in cells


@pytest.mark.parametrize(
    "args, words",
    [
        (["sweep", "coin", "--over", "ppo.width"], ["key=value1,value2"]),
        (["sweep", "coin", "--over", "ppo.width=8,wide"], ["ppo.width must be an integer"]),
        (["sweep", "nowhere", "--over", "l2=0,1"], ["unknown preset 'nowhere'"]),
        (["sweep", "detour", "--planner", "points", "--over", "horizon=1,2", "--set", "seeds=2"], ["a --planner sweep trains nothing"]),
        (["sweep", "detour", "--planner", "points", "--over", "depth=1,2"], ["planner knob must be one of"]),
    ],
)
def test_cli_sweep_rejects_bad_input_before_any_work(tmp_path, args, words):
    db = tmp_path / "bad.db"
    result = CliRunner().invoke(app, args + ["--db", str(db)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    for word in words:
        assert word in text
    assert not db.exists()
