"""Decision influence in a run end to end: measured at every checkpoint of a tiny run, stored,
read back, and shown (or recomputed) by `mesascope influence`, also for a run stored before it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.experiments import config as C
from mesascope.experiments import runner as runner_module
from mesascope.experiments.config import ExperimentConfig
from mesascope.store import artifacts
from mesascope.store.db import Store, run_id_for

TINY = ["world_options.size=7", "world_options.layout=open", "train_shifts=0,0.5", "seeds=1", "ppo.total_steps=1024",
        "ppo.num_envs=8", "ppo.num_steps=32", "ppo.minibatches=2", "eval.episodes=4", "eval.bootstrap=20", "eval.gifs=0",
        "eval.checkpoints=2", "eval.influence_levels=4"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A store with one tiny run (influence recorded) and a copy of it stored the old way: no
    influence, only the final parameters."""
    db = tmp_path_factory.mktemp("influence") / "m.db"
    config = C.apply_overrides(ExperimentConfig(name="tiny-influence"), TINY)
    with Store(db) as store:
        result = runner_module.run_experiment(config, store).result
        old_config = {**result.config, "seed": 7}
        old_id = run_id_for(old_config, "old-code")
        store.begin_run(old_id, result.name, result.world, old_config, "old-code")
        store.finish_run(dataclasses.replace(result, run_id=old_id, config=old_config, influence=None))
        params, _ = artifacts.load_params(store.run_dir(result.run_id) / "params")
        artifacts.save_params(store.run_dir(old_id) / "params", params, {})
    return db, result, old_id


def test_run_records_influence_at_every_checkpoint(stored):
    db, result, _ = stored
    record = result.influence
    np.testing.assert_array_equal(record.steps, [512, 1024])
    assert record.kinds == ("coin", "exit") and record.levels == 4
    assert record.share.shape == (2, 2, 2, 2) and record.cell_maps.shape == (2, 2, 2, 2, 7, 7)
    assert np.all((record.share >= 0) & (record.share <= 1))
    np.testing.assert_array_equal(record.pairs, 4 * 23)  # 5x5 interior minus coin and exit, 4 levels
    assert "influence" in result.timings
    with Store(db) as store:
        loaded = store.load_result(result.run_id).influence
        run_dir = store.run_dir(result.run_id)
    np.testing.assert_array_equal(loaded.share, record.share)
    assert (run_dir / "params_step512.safetensors").exists() and (run_dir / "checkpoints.json").exists()


def test_cli_reads_and_recomputes_the_same_numbers(stored, tmp_path):
    db, result, _ = stored
    cli = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich does not wrap the table
    shown = cli.invoke(app, ["influence", result.run_id[:8], "--db", str(db), "--png", str(tmp_path / "i.png")])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "computing" not in text
    for word in ("p_random_coin", "coin", "exit", "remove", "move", "512 steps", "1,024 steps"):
        assert word in text
    assert (tmp_path / "i.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = cli.invoke(app, ["influence", result.run_id, "--db", str(db), "--recompute"])
    assert again.exit_code == 0, again.output
    assert "computing decision influence" in again.output
    rows = lambda output: [line for line in output.splitlines() if "│" in line]  # noqa: E731
    assert len(rows(shown.output)) == 2 * 2 * 2  # shift values x kinds x interventions
    assert rows(again.output) == rows(shown.output)  # same checkpoints, levels and draws: same numbers


def test_cli_computes_influence_of_a_run_stored_before_it(stored):
    db, result, old_id = stored
    shown = CliRunner().invoke(app, ["influence", old_id, "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "computing decision influence" in shown.output
    assert "1,024 steps" in shown.output and "512 steps" not in shown.output  # only the final params


@pytest.mark.parametrize("args, words", [(["influence", "nope"], ["no run id starts with 'nope'"]),
                                          (["influence", "--db", "missing.db"], ["no store at missing.db"])])
def test_cli_rejects_bad_input(stored, args, words):
    db, _, _ = stored
    if "--db" not in args:
        args = args + ["--db", str(db)]
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 2
    for word in words:
        assert word in " ".join(shown.output.split())


def test_run_records_the_exact_identifiability_of_its_world(stored):
    """Coin at the exit in training: coin and exit are the same objective there (nothing
    disjoint, same reward timing); on test they come apart. Stored and read back exactly."""
    from mesascope.diagnose import identify
    from mesascope.worlds import registry

    db, result, _ = stored
    record = result.identifiability
    assert record.distributions == ("train", "test") and record.levels == 64
    train, test = record.disjoint
    assert train[0, 1] == 0.0 and record.timing[0, 0, 1] == 0.0
    assert test[0, 1] > 0.3 and record.timing[1, 0, 1] == 1.0
    world = registry.make("coin", size=7, layout="open")
    direct = identify.analyse(world, "test", identify.IdentifyConfig(levels=64, seed=result.config["seed"]))
    np.testing.assert_allclose(test, direct.disjoint)
    with Store(db) as store:
        again = store.load_result(result.run_id)
    np.testing.assert_array_equal(again.identifiability.disjoint, record.disjoint)
    assert again.identifiability.distributions == record.distributions
