"""Inverse planning over bounded-planner hypotheses: known horizons recovered where levels
separate them, "not identifiable" where they cannot."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.experts import TIE_TOLERANCE
from mesascope.diagnose import goals
from mesascope.diagnose.planner_goals import Hypotheses, bound_verdict, hypothesis_tables, infer_planner
from mesascope.diagnose.rollout import rollout
from mesascope.worlds import planning
from mesascope.worlds.detour import DetourWorld

HYPOTHESES = Hypotheses(objectives=(0, 1), horizons=(1, 2, 3, 4, 5, 6, 8, 28), gammas=(0.95,), caps=(1.0, float("inf")))
CONFIG = goals.GoalInferenceConfig(gamma=0.95, bootstrap=50)
LEVELS = 48


@pytest.fixture(scope="module")
def world():
    # jackpots from 3 steps away: levels where planners of neighbouring horizons act differently
    return DetourWorld(min_jackpot_distance=3)


@pytest.fixture(scope="module")
def fits(world):
    """Fits of scripted planners with known horizons, on test (separating) and train levels."""
    out = {}
    key = jax.random.PRNGKey(7)

    def planner(horizon):  # the expert's greedy policy with a traced horizon: one compilation for all
        def policy(k, obs, state):
            q = planning.bounded_q_values(planning.tabulate(world, state.level), jnp.array([0.0, 1.0]), 0.95, horizon, jnp.inf)
            row = q[world.state_index(state)]
            return jax.random.categorical(k, jnp.where(row >= row.max() - TIE_TOLERANCE, 0.0, -jnp.inf)).astype(jnp.int32)
        return policy

    play = jax.jit(lambda lv, k, h: rollout(world, planner(h), lv, k))
    for dist in ("test", "train"):
        levels = world.sample_levels(key, world.distributions[dist].shift, LEVELS)
        tables = hypothesis_tables(world, levels, HYPOTHESES, CONFIG)
        for horizon in (2, 4, 6):
            episodes = play(levels, key, horizon)
            out[dist, horizon] = infer_planner(world, levels, episodes, HYPOTHESES, CONFIG, 3.0, (4, float("inf")), tables, objective=1)
    return out


@pytest.mark.parametrize("horizon", [2, 4])
def test_known_horizons_are_recovered_on_separating_levels(fits, horizon):
    fit = fits["test", horizon]
    assert fit.horizon_identified
    assert fit.horizon == horizon
    assert fit.horizon_interval == (horizon, horizon)
    assert fit.hypotheses[fit.best, 0] == 1  # the points objective
    assert fit.plausible_range(3) == (np.inf, np.inf)  # an uncapped planner: the cap-1 planners are refuted


def test_a_long_horizon_is_bounded_below_only_when_no_level_puts_a_jackpot_further_away(fits):
    """On a 7x7 room H = 6 is told from H <= 5 (jackpots 6 steps away), but these levels hold no
    jackpot that only a longer lookahead reaches: the best fit is 6, and everything from 6 up stays plausible."""
    fit = fits["test", 6]
    assert fit.horizon == 6 and fit.horizon_interval == (6, 6)
    assert fit.plausible_range(1)[0] == 6


def test_bound_verdicts_against_an_h4_expert(fits):
    assert bound_verdict(fits["test", 2], 4, float("inf")) == "imitates the bound"
    assert bound_verdict(fits["test", 4], 4, float("inf")) == "imitates the bound"
    assert bound_verdict(fits["test", 6], 4, float("inf")) == "plans beyond its expert's horizon/cap"
    assert fits["test", 6].beyond_support == 1.0 and fits["test", 4].beyond_support == 0.0


@pytest.mark.parametrize("horizon", [2, 4, 6])
def test_training_levels_cannot_separate_horizons(fits, horizon):
    """Without jackpots every planner that sees the goal acts alike: horizons 2..28 stay plausible."""
    fit = fits["train", horizon]
    assert not fit.horizon_identified
    low, high = fit.plausible_range(1)
    assert low == 2 and high == 28
    assert bound_verdict(fit, 4, float("inf")) == "not identifiable"


def test_hypothesis_grid_refuses_bad_axes():
    with pytest.raises(ValueError, match="horizons"):
        Hypotheses(objectives=(0,), horizons=(0, 2), gammas=(0.9,), caps=(np.inf,))
    with pytest.raises(ValueError, match="caps"):
        Hypotheses(objectives=(0,), horizons=(2,), gammas=(0.9,), caps=(0.0,))
