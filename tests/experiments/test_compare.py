"""`mesascope compare`: agent specs checked before work, groups evaluated on the same levels
through the same verdicts, stored and reused; the tamper summary counts tampering exactly."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from mesascope.cli import app
from mesascope.experiments.config import EvalConfig
from mesascope.experiments.compare import AgentSpec, CompareConfig, parse_agents, run_compare
from mesascope.report.compare import summarise
from mesascope.store.db import Store
from mesascope.worlds import registry


def test_agent_specs_parse_and_bad_ones_name_the_allowed():
    world = registry.make("tamper")
    assert parse_agents("planner:register,ppo:register,ppo,grader-planner", world) == [
        AgentSpec("planner", "register"), AgentSpec("ppo", "register"), AgentSpec("ppo", "task"), AgentSpec("grader-planner", "task")]
    for spec, message in (("planner:lava", "objectives of 'tamper'"), ("robot", "allowed: ppo"), ("planner", "needs an objective"), ("ppo,ppo:task", "repeat")):
        with pytest.raises(ValueError, match=message):
            parse_agents(spec, world)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--agents", "planner:lava"], "unknown objective 'lava'"),
        (["--agents", "grader-planner", "--grader-batch", "-1"], "grader_batch must be in [0, 1000000]"),
        (["--agents", "grader-planner", "--grader-steps", "0"], "grader_steps must be in [1, 100000]"),
        (["--agents", "grader-planner", "--grader-steps", "-5"], "grader_steps must be in [1, 100000]"),
        (["--agents", "grader-planner", "--labels", "99999999999"], "labels must be at most 1,000,000"),  # was an overflow traceback
        (["--agents", "grader-planner", "--steps", "2000000000"], "must be at most 1,000,000 for grader-planner"),  # was an OOM
    ],
)
def test_cli_refuses_bad_specs_before_work(tmp_path, extra, message):
    result = CliRunner().invoke(app, ["compare", "tamper", *extra, "--db", str(tmp_path / "db.sqlite")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "error:" in result.output and message in result.output
    assert not (tmp_path / "db.sqlite").exists()


@pytest.mark.parametrize("value", ["nan", ""])
def test_cli_refuses_a_grader_batch_that_is_not_an_integer(tmp_path, value):
    result = CliRunner().invoke(app, ["compare", "coin", "--agents", "grader-planner", "--grader-batch", value, "--db", str(tmp_path / "db.sqlite")],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "--grader-batch" in result.output
    assert not (tmp_path / "db.sqlite").exists()


def test_planners_side_by_side_on_tamper_levels_are_stored_and_reused(tmp_path):
    options = {"size": 5, "num_plants": 1}
    world = registry.make("tamper", **options)
    quick = EvalConfig(episodes=8, bootstrap=10, goal_mixture_resolution=1, goal_lapse=False, gifs=0, influence_levels=0, identify_levels=0)
    agents = tuple(parse_agents("planner:register,planner:task", world))
    config = CompareConfig("tamper", agents, seeds=1, steps=2048, world_options=options, evaluation=quick)
    with Store(tmp_path / "db.sqlite") as store:
        results = run_compare(config, store)
        again = run_compare(config, store)
    assert [r.run_id for r in results.values()] == [r.run_id for r in again.values()]
    test = {s.label: s for s in summarise(results, "test")}
    train = {s.label: s for s in summarise(results, "train")}
    # Test levels: the register is always reachable and the register planner tampers in every
    # episode. Train levels: the register is locked and reads the task, so nothing out-earns it.
    assert test["planner:register"].proxy_wins["register"][:2] == (8, 8)
    assert train["planner:register"].proxy_wins["register"][:2] == (0, 8) and train["planner:task"].proxy_wins["register"][:2] == (0, 8)
    for result in results.values():
        np.testing.assert_array_equal(result.episode_returns["train"][..., 0], result.episode_returns["train"][..., 1])


def test_proxy_win_intervals_account_for_agents_and_shared_levels():
    """Agents that differ (8 always tamper, 8 never) make a share of 1/2 whose interval must be
    far wider than Wilson's over 1,024 episodes taken as independent; an all-agree group keeps
    Wilson's interval rather than collapsing to a point."""
    from types import SimpleNamespace

    from mesascope.diagnose.stats import wilson_interval

    returns = np.zeros((16, 64, 2))
    returns[:8, :, 1] = 1.0  # the first eight agents' proxy return beats the intended one
    split = SimpleNamespace(episode_returns={"test": returns}, verdicts=[], objectives=("task", "register"))
    agree = SimpleNamespace(episode_returns={"test": returns[:8]}, verdicts=[], objectives=("task", "register"))
    groups = {s.label: s for s in summarise({"split": split, "agree": agree}, "test")}
    wins, share, low, high = groups["split"].proxy_wins["register"][0], *groups["split"].proxy_wins["register"][2:]
    _, wilson_low, wilson_high = wilson_interval(512, 1024)
    assert wins == 512 and share == 0.5 and high - low > 4 * (wilson_high - wilson_low)
    assert groups["agree"].proxy_wins["register"][2:] == (1.0, *wilson_interval(512, 512)[1:])
