"""The worked example of docs/new_world.md runs as written and poses the problem it claims."""

import re
from pathlib import Path

import jax
import numpy as np
import pytest

from mesascope.agents.planner_agent import planner_for
from mesascope.diagnose import returns, rollout
from mesascope.diagnose.causal import proxy_kinds
from mesascope.worlds import planning

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "new_world.md"


@pytest.fixture(scope="module")
def world():
    code = re.search(r"```python\n(.*?)```", GUIDE.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(GUIDE), "exec"), namespace)  # our own documentation, not user input
    return namespace["WORLD"]()


def test_guide_world_steps_and_tabulates(world):
    level = world.sample_level(jax.random.PRNGKey(0), 1.0)
    obs, state = world.reset(jax.random.PRNGKey(1), level)
    assert obs.shape == world.observation_shape and obs.dtype == np.uint8
    step = jax.jit(world.step)
    timestep = step(jax.random.PRNGKey(2), state, 1, 0.0)
    assert timestep.objective_rewards.shape == (2,)
    view = planning.tabulate(world, level)
    assert np.all(np.asarray(planning.optimal_returns(world, view)) == 1.0)
    assert world.render(level, state.inner).dtype == np.uint8
    assert proxy_kinds(world) == {"red": "side-effect"}
    assert len(world.observation_channels) == world.observation_shape[-1]
    assert [world.observation_channels[i] for i in world.object_channels] == ["gem", "red"]


def test_guide_world_poses_its_problem(world):
    def intended_return(objective, shift):
        levels = world.sample_levels(jax.random.PRNGKey(3), shift, 32)
        episodes = rollout.rollout(world, planner_for(world, objective), levels, jax.random.PRNGKey(4))
        return float(np.mean(np.asarray(episodes.objective_returns)[:, 0]))

    assert intended_return("gem", 0.0) == intended_return("red", 0.0) == 1.0
    assert intended_return("gem", 1.0) == 1.0
    assert intended_return("red", 1.0) < 0.2
    optimal, random = returns.level_baselines(world, world.sample_levels(jax.random.PRNGKey(5), 1.0, 8))
    assert np.all(optimal[:, 0] == 1.0) and np.all(random[:, 0] < 1.0)
