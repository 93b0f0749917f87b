"""Bad input to the meta-learning commands is refused with a clear error before any work."""

from typer.testing import CliRunner

WIDE = {"COLUMNS": "200"}

from mesascope.cli import app


def test_meta_refuses_unknown_predicate_and_bad_trial_length(tmp_path):
    db = tmp_path / "none.db"
    runner = CliRunner(env=WIDE)
    bad = runner.invoke(app, ["meta", "latest", "--predicate", "deceptive", "--db", str(db)])
    assert bad.exit_code == 2 and "allowed: fails_intended, proxy_on_heldout" in bad.output
    short = runner.invoke(app, ["meta", "latest", "--trial-episodes", "0", "--db", str(db)])
    assert short.exit_code == 2 and "trial length" in short.output
    assert not db.exists()  # refused before the store was opened


def test_run_refuses_trial_length_below_one_and_incompatible_union(tmp_path):
    db = tmp_path / "none.db"
    runner = CliRunner(env=WIDE)
    short = runner.invoke(app, ["run", "hidden-goal", "--agent", "recurrent", "--set", "trial_episodes=0", "--db", str(db)])
    assert short.exit_code == 2 and "trial_episodes" in short.output
    union = runner.invoke(app, ["run", "union:coin,lamp", "--db", str(db)])
    assert union.exit_code == 2 and "different actions" in union.output
    family = runner.invoke(app, ["run", "hidden-goal", "--agent", "lstm", "--db", str(db)])
    assert family.exit_code == 2 and "ppo" in family.output and "recurrent" in family.output
    assert not db.exists()
