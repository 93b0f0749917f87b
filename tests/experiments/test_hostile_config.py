"""Hostile values for every config key (issue 9): each is refused by the validation the CLI
runs, with `error:` naming the key and before anything is compiled, or it is a value a run
accepts. Refusal is checked through `apply_overrides` and the CLI in-process (with training
made impossible); a few real CLI processes check there is never a traceback."""

from __future__ import annotations

import io

import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.experiments import config as C
from mesascope.experiments import population
from mesascope.experiments import runner as runner_module
from mesascope.experiments import training as training_module
from mesascope.experiments.checkpoints import Checkpoints
from mesascope.store.db import Store

HOSTILE = ["", "nan", "inf", "-inf", "99999999999999999999999", "-1", "many", "[/x]", "ünïcødé ✓", "1,1", "0"]
"""Empty, NaN, ±inf, huge, negative, wrong type, markup, unicode, repeats, zero."""

TINY = ["seeds=1", "train_shifts=0", "ppo.total_steps=2048", "ppo.num_envs=8", "ppo.num_steps=16", "eval.episodes=4"]


def _named(message: str, key: str) -> bool:
    return key in message or key.split(".")[-1] in message


def test_every_key_refuses_hostile_values_by_name_or_accepts_a_sane_value():
    base = C.apply_overrides(C.ExperimentConfig(), TINY)
    refused = accepted = 0
    for key in C.allowed_keys(base):
        for value in HOSTILE:
            try:
                config = C.apply_overrides(base, [f"{key}={value}"])
            except C.ConfigError as error:
                assert _named(str(error), key), (key, value, str(error))
                refused += 1
                continue
            accepted += 1
            C.validate(config)  # what the runner checks again before any work
            assert C.from_dict(config.to_dict()) == config
            for number in _numbers(config):
                assert np.isfinite(number) and abs(number) <= 2**32, (key, value, number)
    assert refused > 400 and accepted > 20  # both outcomes really happen


ACCEPTED = ["name=[/x] ünïcødé ✓", "reward_weights=1,1", "ppo.gamma=0", "ppo.gae_lambda=0", "ppo.entropy_coef=0",
            "ppo.value_coef=0", "ppo.anneal_lr=0", "eval.greedy=0", "eval.gifs=0", "eval.influence_levels=0",
            "eval.identify_levels=0", "thresholds.min_support=0", "thresholds.min_gain_over_random=0", "l1=0", "seed=0"]
"""One of each class of hostile value the property test finds accepted: markup and unicode text,
a list, and zeros at the edge of every range that allows them."""


def test_accepted_hostile_values_train_a_tiny_run_to_completion(tmp_path):
    db = tmp_path / "odd [/x] ✓" / "m.db"
    args = ["run", "coin", *[x for s in TINY + ACCEPTED for x in ("--set", s)], "--db", str(db)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[/x] ünïcødé ✓" in result.output and "odd [/x] ✓" in " ".join(result.output.split())
    with Store(db, readonly=True) as store:
        (row,) = store.list_runs()
        assert row["status"] == "finished" and row["name"] == "[/x] ünïcødé ✓"
        loaded = store.load_result(row["run_id"])
    assert all(np.isfinite(v).all() for k, v in loaded.curves.items() if not k.startswith("return/"))


def _numbers(config) -> list[float]:
    data = config.to_dict()
    out = []

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            out.append(float(x))

    walk(data)
    return [n for n in out if n != 300_000 and n < 1e10]  # default step budget is not hostile


@pytest.mark.parametrize("key", ["seed", "ppo.width", "ppo.max_grad_norm", "ppo.learning_rate", "ppo.entropy_coef", "ppo.value_coef",
                                 "ppo.clip", "l1", "l2", "eval.episodes", "eval.bootstrap", "world_options.max_steps",
                                 "world_options.bank_size", "eval.distributions", "reward_weights", "seeds"])
def test_the_cli_refuses_before_any_compilation(tmp_path, monkeypatch, key):
    def no_training(*args, **kwargs):
        raise AssertionError("training was compiled for a config that should have been refused")

    monkeypatch.setattr(training_module, "make_train", no_training)
    db = tmp_path / "m.db"
    base = C.apply_overrides(C.ExperimentConfig(), TINY)
    for value in ("nan", "inf", "99999999999999999999999", "[/x]", ""):
        try:
            C.apply_overrides(base, [f"{key}={value}"])
            continue  # accepted (e.g. empty reward_weights): the property test covers it
        except C.ConfigError:
            pass
        result = CliRunner().invoke(app, ["run", "coin", *[x for s in TINY for x in ("--set", s)], "--set", f"{key}={value}", "--db", str(db)])
        output = " ".join(result.output.split())
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (key, value, result.output)
        assert output.startswith("error:") and _named(output, key), (key, value, output)
        assert not db.exists()


CLEAN_ERRORS = [
    (["--set", "seeds=[/x]"], ["seeds must be an integer, got '[/x]'"]),
    (["--set", "eval.distributions=[test]"], ["unknown distribution '[test]'"]),
    (["--set", "world_options.max_steps=inf"], ["world_options.max_steps must be a finite number"]),
    (["--set", "eval.distributions=test,test"], ["eval.distributions must not repeat"]),
    (["--set", "world_options.layout=open", "--set", "world_options.bank_size=0"], ["world_options.bank_size must be in [1, 65536]"]),
]


@pytest.mark.parametrize("args, words", CLEAN_ERRORS)
def test_cli_errors_print_user_text_literally(tmp_path, args, words):
    db = tmp_path / "m.db"
    result = CliRunner().invoke(app, ["run", "coin", *args, "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    for word in words:
        assert word in " ".join(result.output.split())
    assert not db.exists()


@pytest.mark.parametrize("args, words", [CLEAN_ERRORS[0], CLEAN_ERRORS[2]])
def test_real_cli_processes_refuse_with_a_clean_error(tmp_path, args, words):
    db = tmp_path / "m.db"
    done = subprocess.run([sys.executable, "-m", "mesascope.cli", "run", "coin", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output and "error:" in output
    for word in words:
        assert word in " ".join(output.split())
    assert not db.exists()


def test_planner_sweep_refuses_an_infinite_horizon(tmp_path):
    result = CliRunner().invoke(app, ["sweep", "coin", "--planner", "coin", "--over", "horizon=1,inf", "--db", str(tmp_path / "m.db")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "horizon must be a finite number" in result.output


def test_training_that_stops_being_finite_fails_naming_the_update(tmp_path, monkeypatch):
    config = C.apply_overrides(C.ExperimentConfig(name="diverging"), TINY)

    def diverging(trainer, config, on_chunk=None, checkpoints=1):
        loss = np.zeros((1, 16))
        loss[0, 6:] = np.nan
        params = {"dense": {"kernel": np.full((1, 2, 2), np.nan, np.float32)}}
        curves = {"loss": loss, "return/coin": np.full((1, 16), np.nan)}  # NaN returns alone are fine
        return params, curves, Checkpoints(steps=np.array([2048]), params=[params])

    monkeypatch.setattr(population, "train_population", diverging)
    with Store(tmp_path / "m.db") as store:
        with pytest.raises(runner_module.TrainingDiverged, match=r"loss not finite at PPO update 7 \(after 896 environment steps"):
            runner_module.run_experiment(config, store)
        (row,) = store.list_runs()
        assert row["status"] == "failed"
        assert not (store.run_dir(row["run_id"]) / "params.safetensors").exists()
    with pytest.raises(runner_module.TrainingDiverged, match="parameters of checkpoint 1 are not finite"):
        runner_module.check_finite({"loss": np.zeros((1, 3))}, [{"w": np.array([np.inf])}], 8)
    runner_module.check_finite({"loss": np.zeros((1, 3)), "return/coin": np.full((1, 3), np.nan)}, [{"w": np.zeros(2)}], 8)


def test_every_config_int_is_bounded_and_every_key_documented(monkeypatch):
    rows = C.config_rows()
    keys = {row[0] for row in rows}
    assert set(C.allowed_keys()) == keys
    for key, kind, default, allowed, doc in rows:
        assert doc, key
        if kind == "int" and not key.startswith("world_options."):
            assert allowed.startswith("[") and "inf" not in allowed, key
        if kind in ("float", "list of float"):
            assert "finite" in allowed, key
    help_text = " ".join(CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output.split())
    for key in keys:
        assert key in help_text, key
    table = CliRunner().invoke(app, ["config", "coin-demo"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "ppo.max_grad_norm" in table.output and "(0, 1e+06]" in table.output
    from rich.console import Console

    from mesascope.commands import config as config_command_module

    narrow = Console(width=80, record=True, file=io.StringIO())  # the console keeps the width it started with
    monkeypatch.setattr(config_command_module, "console", narrow)
    config_command_module.config_command("coin-demo")
    lines = narrow.export_text().splitlines()
    assert keys <= {line for line in lines}  # one key per paragraph, none cut
    # everything under a key is indented, wrapped lines too
    assert all(line.startswith("    ") or line in keys or not line.strip() for line in lines[1:])
    wrong = CliRunner().invoke(app, ["run", "coin", "--set", "ppo.widht=3"])
    assert wrong.exit_code == 2 and "unknown config key 'ppo.widht'" in wrong.output and "ppo.width" in wrong.output
