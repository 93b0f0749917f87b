"""Planner sweeps: exact planners whose behaviour is known by construction, diagnosed like
trained agents, give the sweep-level verdicts their known answers."""

import numpy as np
import pytest

from mesascope.diagnose.sweep_verdicts import decide_sweep, sweep_agents
from mesascope.experiments.planner_sweep import PlannerSweep, run_planner_sweep


DETOUR = PlannerSweep(world="detour", objective="points", knob="horizon", values=(1, 2, 8), seeds=3, episodes=12, bootstrap=100, distributions=("test",))


@pytest.fixture(scope="module")
def detour_results():
    return run_planner_sweep(DETOUR)


def test_a_points_planner_shows_suboptimality_alignment_as_its_horizon_grows(detour_results):
    """Detour world: with a horizon of 1 the jackpot is out of sight and the points planner
    delivers (robustly aligned); with 8 it takes the jackpot (proxy-aligned)."""
    sweep, results = DETOUR, detour_results
    verdicts = [[row.verdict for row in result.verdicts] for result in results]
    assert verdicts[0] == ["robustly aligned"] * 3
    assert verdicts[-1] == ["proxy-aligned"] * 3
    assert {row.kind for row in results[-1].verdicts} == {"general"}
    (decided,) = decide_sweep(sweep_agents(results, list(sweep.values))).values()
    approximate, suboptimality = decided
    assert suboptimality.holds, suboptimality.reason
    assert not approximate.holds


def test_a_boltzmann_coin_planner_shows_approximate_alignment_as_it_grows_rational():
    """Coin world: a Boltzmann planner of the intended objective stays aimed at the coin while
    its shortfall shrinks as the temperature falls (the dial read in reverse)."""
    sweep = PlannerSweep(world="coin", world_options={"size": 7, "layout": "open"}, objective="coin", knob="temperature",
                         values=(0.2, 0.1, 0.03), seeds=3, episodes=16, bootstrap=100, distributions=("test",))
    results = run_planner_sweep(sweep)
    agents = sweep_agents(results, [-t for t in sweep.values])
    assert agents.aimed.all()
    gaps = [agents.gap[agents.x == -t].mean() for t in sweep.values]
    assert gaps[0] > gaps[-1] + 0.1
    (decided,) = decide_sweep(agents).values()
    approximate, suboptimality = decided
    assert approximate.holds, approximate.reason
    assert not suboptimality.holds


def test_each_seed_plays_its_own_levels(detour_results):
    result = detour_results[-1]
    assert result.episode_returns["test"].shape == (3, 12, 2)
    assert len({row.agent for row in result.verdicts}) == 3
    # the jackpot is worth more points than the goal, but the levels differ: so do the returns
    normalised = result.episode_normalised["test"]
    assert not np.array_equal(normalised[0], normalised[1])


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"objective": "gold"}, "objective must be one of"),
        ({"knob": "depth"}, "planner knob must be one of"),
        ({"values": (2,)}, "at least two distinct"),
        ({"values": (2, 2.5)}, "horizon must be an integer"),
        ({"knob": "gamma", "values": (0.5, 1.5)}, "gamma must be in (0, 1]"),
        ({"distributions": ("test", "moon")}, "unknown distribution 'moon'"),
    ],
)
def test_bad_planner_sweeps_are_rejected_before_any_work(changes, words):
    settings = {"world": "coin", "objective": "coin", "knob": "horizon", "values": (1, 2)} | changes
    with pytest.raises(ValueError) as error:
        PlannerSweep(**settings).validate()
    assert words in str(error.value)
