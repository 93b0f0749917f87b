"""The runner and the CLI end to end on a tiny experiment: store, reuse, interruption, errors."""

import dataclasses
import re

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.experiments import config as C
from mesascope.experiments import runner as runner_module
from mesascope.experiments.config import ExperimentConfig
from mesascope.records.readings import verdict_category
from mesascope.store.db import Store, run_id_for

TINY_SETTINGS = [
    "world_options.size=7",
    "world_options.layout=open",
    "train_shifts=0,0.5",
    "seeds=2",
    "ppo.total_steps=512",
    "ppo.num_envs=8",
    "ppo.num_steps=32",
    "ppo.minibatches=2",
    "eval.episodes=8",
    "eval.bootstrap=20",
    "eval.gifs=1",
]


@pytest.fixture
def tiny() -> ExperimentConfig:
    return C.apply_overrides(ExperimentConfig(name="tiny"), TINY_SETTINGS)


def test_run_stores_everything_and_reuses_a_finished_run(tmp_path, tiny, monkeypatch):
    """A population over a knob grid (2 shifts x 2 L2 values x 1 seed) runs, is stored with each
    agent's knob values and its verdicts at both checkpoints, is reused, and is re-diagnosed under
    a new threshold without training."""
    tiny = C.apply_overrides(tiny, ["seeds=1", "knob_grid.l2=0,0.01", "eval.trajectory=true", "eval.checkpoints=2"])
    assert runner_module.training_id_for(C.apply_overrides(tiny, ["eval.trajectory=false"])) == runner_module.training_id_for(tiny)
    with Store(tmp_path / "m.db") as store:
        first = runner_module.run_experiment(tiny, store)
        assert not first.reused
        assert first.report_path.exists()
        assert store.status(first.result.run_id) == "finished"
        result = store.load_result(first.result.run_id)
        assert len(result.agents) == 4
        assert {v.distribution for v in result.verdicts} == {"train", "test"}
        assert len(result.verdicts) == 8
        assert result.episode_returns["test"].shape == (4, 8, 2)
        assert result.curves["return/coin"].shape[0] == 4
        assert len(result.gifs) == 2  # one test level for each training shift value
        assert (store.run_dir(result.run_id) / "params.safetensors").exists()
        along = result.trajectory
        assert along.distribution == "test" and along.steps.tolist() == [256, 512] and along.verdicts.shape == (4, 2)
        final = {row.agent: row.verdict for row in result.verdicts if row.distribution == "test"}
        assert along.verdicts[:, -1].tolist() == [final[a] for a in along.agents]
        assert along.categories[:, -1].tolist() == [verdict_category(final[a]) for a in along.agents]
        assert along.verdicts.tolist() == first.result.trajectory.verdicts.tolist()  # through the store
        np.testing.assert_array_equal(along.steps, first.result.trajectory.steps)
        assert "Verdicts along training" in first.report_path.read_text(encoding="utf-8")
        second = runner_module.run_experiment(tiny, store)
        assert second.reused and second.result.run_id == first.result.run_id
        assert [(a.train_shift, a.knobs["l2"]) for a in result.agents] == [(0.0, 0.0), (0.0, 0.01), (0.5, 0.0), (0.5, 0.01)]
        assert {a.knobs["ppo.learning_rate"] for a in result.agents} == {tiny.ppo.learning_rate}

        def no_training(*args, **kwargs):
            raise AssertionError("a change of threshold must not train")

        monkeypatch.setattr(runner_module, "train_cell", no_training)
        stricter = C.apply_overrides(tiny, ["thresholds.min_support=0.99", "eval.bootstrap=30", "eval.trajectory=false", "eval.level_seed=7"])
        assert runner_module.training_id_for(stricter) == runner_module.training_id_for(tiny)
        third = runner_module.run_experiment(stricter, store)
        assert not third.reused and third.result.run_id != first.result.run_id
        assert store.training_id(third.result.run_id) == store.training_id(first.result.run_id)
        assert third.result.thresholds["min_support"] == 0.99
        np.testing.assert_array_equal(third.result.curves["return/coin"], result.curves["return/coin"])
        assert "load_training" in third.result.timings and "train" not in third.result.timings
        assert third.result.trajectory is None and "trajectory" not in third.result.timings
    cli = CliRunner()
    db = str(tmp_path / "m.db")
    refused = cli.invoke(app, ["diagnose", first.result.run_id, "--db", db, "--set", "l2=0.5"])
    assert refused.exit_code == 2 and "l2 changes what is trained" in refused.output
    done = cli.invoke(app, ["diagnose", first.result.run_id, "--db", db, "--set", "thresholds.min_log_bayes_factor=5", "--set", "eval.trajectory=false"])
    assert done.exit_code == 0, done.output
    with Store(tmp_path / "m.db") as store:
        rows = store.list_runs()
        assert len(rows) == 3 and len({store.training_id(r["run_id"]) for r in rows}) == 1
    along = cli.invoke(app, ["trajectory", first.result.run_id, "--db", db, "--distribution", "train", "--episodes", "4", "--png", str(tmp_path / "t.png")], env={"COLUMNS": "250"})
    assert along.exit_code == 0, along.output
    assert "256 steps" in along.output and "512 steps" in along.output and "reading that came later" in along.output
    flat = " ".join(along.output.split())
    assert re.search(r"trained at \S+ = 0 ", flat) and re.search(r"trained at \S+ = 0.5 ", flat), flat  # one table per training shift
    assert "stored with run" not in along.output and "on train" in along.output  # not what the run stored: computed
    stored = cli.invoke(app, ["trajectory", first.result.run_id, "--db", db], env={"COLUMNS": "250"})
    assert stored.exit_code == 0 and "stored with run" in stored.output, stored.output
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_interrupted_run_is_marked_failed_then_redone(tmp_path, tiny, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with Store(tmp_path / "m.db") as store:
        monkeypatch.setattr(runner_module, "evaluate_population", interrupt)
        with pytest.raises(KeyboardInterrupt):
            runner_module.run_experiment(tiny, store)
        (row,) = store.list_runs()
        assert row["status"] == "failed"
        with pytest.raises(Exception, match="failed"):
            store.load_result(row["run_id"])
        monkeypatch.undo()
        outcome = runner_module.run_experiment(tiny, store)
        assert not outcome.reused and store.status(row["run_id"]) == "finished"


def test_a_different_config_is_a_different_run(tiny):
    """Run ids hash the config and the code version (two real runs with different ids are
    stored side by side in the level-mix test below; this checks the id itself, cheaply)."""
    version = runner_module.code_version()
    ids = {run_id_for(config.to_dict(), version) for config in (tiny, dataclasses.replace(tiny, seed=1), dataclasses.replace(tiny, l2=0.001))}
    assert len(ids) == 3
    assert run_id_for(tiny.to_dict(), version) == run_id_for(C.from_dict(tiny.to_dict()).to_dict(), version)
    assert run_id_for(tiny.to_dict(), version) != run_id_for(tiny.to_dict(), version + "-changed")


def test_cli_run_report_list_and_show(tmp_path):
    cli = CliRunner()
    db = tmp_path / "cli.db"
    args = ["run", "coin", "--seeds", "1", "--db", str(db)] + [x for s in TINY_SETTINGS if not s.startswith("seeds") for x in ("--set", s)]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "report:" in result.output
    result = cli.invoke(app, ["report", "latest", "--db", str(db), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").stat().st_size > 10_000
    assert cli.invoke(app, ["runs", "--db", str(db)]).exit_code == 0
    listing = cli.invoke(app, ["list"])
    assert listing.exit_code == 0 and "coin" in listing.output and "coin-demo" in listing.output
    shown = cli.invoke(app, ["show", "coin", "--png", str(tmp_path / "coin.png")])
    assert shown.exit_code == 0 and "side-effect" in shown.output
    assert (tmp_path / "coin.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, words",
    [
        (["run", "nope"], ["unknown preset 'nope'", "coin-demo"]),
        (["run", "coin", "--set", "ppo.width=wide"], ["ppo.width must be an integer"]),
        (["run", "coin", "--set", "train_shifts=3"], ["p_random_coin must be in"]),
        (["run", "coin", "--steps", "10"], ["ppo.total_steps must be at least"]),
        (["show", "atlantis"], ["unknown world 'atlantis'", "coin"]),
    ],
)
def test_cli_rejects_bad_input_before_any_work(tmp_path, args, words):
    db = tmp_path / "bad.db"
    result = CliRunner().invoke(app, args + (["--db", str(db)] if args[0] == "run" else []))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    for word in words:
        assert word in text
    assert not db.exists()


def test_a_mixed_run_trains_on_the_mix_and_is_evaluated_like_an_unmixed_one(tmp_path, tiny, monkeypatch):
    """Evaluation of a level-mix run sees the base world and the very levels of the same config
    without a mix (same keys); only training differs, and the result names the dial q."""
    from mesascope.experiments import evaluate as evaluate_module

    mixed = C.apply_overrides(tiny, ["level_mix=adversarial", "adversarial_pool=64", "adversarial_bank=8", "eval.gifs=0"])
    plain = dataclasses.replace(mixed, level_mix="none")
    seen: list[tuple[object, object]] = []
    real = evaluate_module.returns.level_baselines

    def spy(world, levels):
        seen.append((world, levels))
        return real(world, levels)

    monkeypatch.setattr(evaluate_module.returns, "level_baselines", spy)
    with Store(tmp_path / "m.db") as store:
        evaluated, run_ids = {}, {}
        for config in (plain, mixed):
            seen.clear()
            run_ids[config.level_mix] = runner_module.run_experiment(config, store).result.run_id
            evaluated[config.level_mix] = list(seen)
        result = store.load_result(run_ids["adversarial"])
        plain_result = store.load_result(run_ids["none"])
    assert run_ids["adversarial"] != run_ids["none"]
    assert (result.shift_name, plain_result.shift_name) == ("q_adversarial", "p_random_coin")
    assert result.config["level_mix"] == "adversarial"
    assert sorted({a.train_shift for a in result.agents}) == [0.0, 0.5]
    assert result.timings["level_mix"] > 0 and "level_mix" not in plain_result.timings
    assert {v.distribution for v in result.verdicts} == {"train", "test"}
    assert len(evaluated["adversarial"]) == len(evaluated["none"]) == 2  # train and test
    for (world, levels), (plain_world, plain_levels) in zip(evaluated["adversarial"], evaluated["none"]):
        assert world.name == plain_world.name == "coin"  # the base world, not the mixed one (coin+adversarial)
        for a, b in zip(jax.tree.leaves(levels), jax.tree.leaves(plain_levels)):
            np.testing.assert_array_equal(a, b)


def test_code_version_changes_with_result_code_and_not_with_presentation(tmp_path, monkeypatch):
    import mesascope

    package = tmp_path / "mesascope"
    for relative in ("__init__.py", "worlds/coin.py", "report/plots.py", "commands/dose.py", "cli.py", "store/schema.sql"):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(f"# {relative}\n")
    monkeypatch.setattr(mesascope, "__file__", str(package / "__init__.py"))
    first = runner_module.code_version()
    for relative in ("report/plots.py", "commands/dose.py", "cli.py"):
        (package / relative).write_text("# a better plot\n")
        assert runner_module.code_version() == first, relative
    for relative, text in (("worlds/coin.py", "REWARD = 2\n"), ("store/schema.sql", "-- another schema\n")):
        before = runner_module.code_version()
        (package / relative).write_text(text)
        assert runner_module.code_version() != before, relative


def test_editing_comments_and_docstrings_is_not_a_new_run(tmp_path, monkeypatch):
    import mesascope

    package = tmp_path / "mesascope"
    (package / "worlds").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    code = 'def reward(cell):\n    return 1.0 if cell == "#" else 0.0\n'
    (package / "worlds" / "coin.py").write_text(code)
    monkeypatch.setattr(mesascope, "__file__", str(package / "__init__.py"))
    first = runner_module.training_version(), runner_module.code_version()
    documented = ('"""The coin world."""\n\n\ndef reward(cell):  # the coin\n    """1 on a coin cell."""\n'
                  '    # "#" marks the coin\n    return 1.0 if cell == "#" else 0.0   \n')
    (package / "worlds" / "coin.py").write_text(documented)
    assert (runner_module.training_version(), runner_module.code_version()) == first
    (package / "worlds" / "coin.py").write_text(code.replace('"#"', '"*"'))  # a change inside a string literal is code
    assert runner_module.training_version() != first[0]
    (package / "worlds" / "coin.py").write_text(code.replace("1.0 if", "2.0 if"))
    assert runner_module.training_version() != first[0]
