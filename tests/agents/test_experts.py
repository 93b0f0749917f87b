"""Bounded planning experts: exact capped values, refused specs, and a world where the bound shows."""

import jax
import jax.numpy as jnp
import pytest

from mesascope.agents.experts import ExpertSpec, check_expert
from mesascope.experiments import config as C
from mesascope.experiments.imitation_eval import planners_agree
from mesascope.agents.imitation import expert_act, play
from mesascope.worlds import planning
from mesascope.worlds.detour import DetourLevel, DetourWorld


@pytest.fixture(scope="module")
def world():
    return DetourWorld()


def level(goal, jackpot, present=True):
    walls = jnp.asarray(DetourWorld().walls)
    return DetourLevel(walls=walls, agent_start=jnp.array([3, 1]), goal=jnp.array(goal), jackpot=jnp.array(jackpot), jackpot_present=jnp.array(present))


def test_capped_utility_values_the_jackpot_only_up_to_the_cap(world):
    lv = level([1, 1], [3, 5])  # (row, column): goal 2 steps north, jackpot 4 steps east
    view = planning.tabulate(world, lv)
    points = jnp.array([0.0, 1.0])
    start = int(view.start)
    uncapped = planning.bounded_q_values(view, points, 0.95, 28, jnp.inf)[start]
    capped = planning.bounded_q_values(view, points, 0.95, 28, 1.0)[start]
    short = planning.bounded_q_values(view, points, 0.95, 3, jnp.inf)[start]
    # east (action 1) leads to the jackpot in 4 steps: 3 * 0.95**3 uncapped, 1 * 0.95**3 capped
    assert float(uncapped[1]) == pytest.approx(3 * 0.95**3, rel=1e-5)
    assert float(capped[1]) == pytest.approx(0.95**3, rel=1e-5)
    # north (action 0) starts a 2-step path to the goal (0.95), or a 6-step one to the jackpot
    assert float(capped[0]) == pytest.approx(0.95, rel=1e-5)
    assert float(uncapped[0]) == pytest.approx(3 * 0.95**5, rel=1e-5)
    assert int(jnp.argmax(uncapped)) == 1 and int(jnp.argmax(capped)) in (0, 3)
    # a 3-step lookahead cannot see the jackpot 4 steps away: east is worth nothing
    assert float(short[1]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    "overrides, field",
    [
        (["expert.horizon=-1"], "expert.horizon"),
        (["expert.objective=gold"], "expert.objective"),
        (["expert.utility_cap=3"], "expert.utility_cap"),
        (["expert.horizon=99"], "expert.horizon"),
        (["agent=mimic"], "agent"),
    ],
)
def test_bad_expert_specs_are_refused_naming_the_field(overrides, field):
    with pytest.raises(C.ConfigError, match=field.replace(".", r"\.")):
        C.apply_overrides(C.ExperimentConfig(world="detour", train_shifts=(0.0,)), ["agent=bc", *overrides])


def test_a_cap_below_the_largest_return_is_accepted(world):
    check_expert(world, ExpertSpec(utility_cap=1.0))  # the jackpot pays 3 points


def test_detour_shows_the_bound_planners_agree_in_training_and_part_on_test(world):
    """Training levels: the H=4 expert and the unbounded planner allow the same actions at every
    state the expert visits; test levels: they differ, and only the unbounded one takes jackpots."""
    spec = ExpertSpec(horizon=4)
    key = jax.random.PRNGKey(3)
    train = world.sample_levels(key, 0.0, 32)
    test = world.sample_levels(key, 1.0, 32)
    expert = jax.jit(lambda lv: play(world, spec, expert_act(world, spec), lv, key))
    assert planners_agree(world, spec, train, expert(train)) == 1.0
    assert planners_agree(world, spec, test, expert(test)) < 0.9

    @jax.jit
    def jackpot_share(horizon, cap):
        def one(lv):
            q = planning.bounded_q_values(planning.tabulate(world, lv), jnp.array([0.0, 1.0]), 0.95, horizon, cap)
            inner, points = world.start(lv), 0.0
            for _ in range(12):  # greedy walk (lowest action on ties); jackpots lie within 12 steps
                inner, rewards, _ = world.transition(lv, inner, jnp.argmax(q[world.inner_index(lv, inner)]))
                points = jnp.where(points == 0, rewards[1], points)
            return points == 3.0
        return jnp.mean(jax.vmap(one)(test))

    assert float(jackpot_share(world.max_steps, jnp.inf)) == 1.0
    assert float(jackpot_share(world.max_steps, 1.0)) == 0.0
    assert float(jackpot_share(4, jnp.inf)) < 1.0
