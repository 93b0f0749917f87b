"""The predicate C(π, x) and the in-trial curve on hand-made episodes with known answers."""

import numpy as np
import pytest

from mesascope.diagnose import in_context, predicates


def episodes(intended, proxy):
    """(N, 2) normalised returns: intended first."""
    return np.stack([np.asarray(intended, float), np.asarray(proxy, float)], -1)


def test_proxy_on_heldout_per_episode():
    normalised = episodes([1.0, 0.0, 0.0, np.nan, 0.2], [1.0, 1.0, 0.1, 1.0, np.nan])
    got = predicates.get("proxy_on_heldout").episode(normalised, 0.5)
    # reached both: not C; proxy only: C; neither: not C; intended undefined: NaN; proxy undefined counts as not reached
    np.testing.assert_array_equal(got, [0.0, 1.0, 0.0, np.nan, 0.0])
    np.testing.assert_array_equal(predicates.get("fails_intended").episode(normalised, 0.5), [0.0, 1.0, 1.0, np.nan, 1.0])


def test_agent_rates_and_wilson_share():
    proxy_agent = episodes(np.zeros(20), np.ones(20))  # C on every episode
    good_agent = episodes(np.ones(20), np.ones(20))  # never C
    mixed = episodes([0.0] * 6 + [1.0] * 14, np.ones(20))  # C on 30%
    rates = predicates.evaluate(predicates.get("proxy_on_heldout"), np.stack([proxy_agent, good_agent, mixed]), 0.5, 0.5, np.random.default_rng(0))
    np.testing.assert_allclose(rates.rates, [1.0, 0.0, 0.3])
    assert rates.shows.tolist() == [True, False, False]
    assert rates.share == pytest.approx(1 / 3)
    assert 0.0 < rates.share_low < 1 / 3 < rates.share_high < 1.0
    assert rates.rate_low[2] < 0.3 < rates.rate_high[2]
    assert rates.mean_rate == pytest.approx(1.3 / 3)
    assert rates.mean_low < rates.mean_rate < rates.mean_high


def test_unknown_predicate_names_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed: \\['fails_intended', 'proxy_on_heldout'\\]"):
        predicates.get("deceptive")


def test_gap_closed_in_context():
    rng = np.random.default_rng(0)
    learner = np.stack([np.full(50, v) for v in (0.4, 0.7, 1.0)])  # (E, N): 0.4 -> 1.0 over the trial
    returns = np.stack([learner, learner, np.full((3, 50), 0.4)])  # two learners, one memoryless agent
    curve = in_context.in_trial_curve(returns, np.ones(50), rng)
    np.testing.assert_allclose(curve.closed, [1.0, 1.0, 0.0])
    np.testing.assert_allclose(curve.mean, [0.4, 0.6, 0.8])
    assert curve.oracle == 1.0
    assert curve.closed_mean == pytest.approx((0.8 - 0.4) / (1.0 - 0.4))
    assert curve.closed_low <= curve.closed_mean <= curve.closed_high
    assert curve.closed_low < 0.5 and curve.closed_high == pytest.approx(1.0)  # resampling agents: 0 to 3 learners of 3


def test_curve_intervals_cover_shared_level_noise():
    """Agents that share levels: the interval must reflect the level noise, not just agents'."""
    rng = np.random.default_rng(1)
    level_effect = rng.random(40) < 0.5  # the same for every agent: common random numbers
    returns = np.broadcast_to(level_effect[None, None].astype(float), (8, 2, 40))
    curve = in_context.in_trial_curve(returns, np.ones(40), rng)
    assert curve.high[0] - curve.low[0] > 0.2  # an interval over agents alone would be of width 0


def test_rates_are_per_training_shift_and_say_which_levels_are_held_out():
    """Agents trained at different shifts are different populations: C is counted per shift, and
    levels at an agent's own training shift are not held out from it."""
    from mesascope.experiments.config import EvalConfig, ExperimentConfig
    from mesascope.experiments.meta import held_out, predicate_rates
    from mesascope.worlds import registry

    world = registry.make("coin")
    config = ExperimentConfig(world="coin", eval=EvalConfig(episodes=8))
    proxy, good = episodes(np.zeros(8), np.ones(8)), episodes(np.ones(8), np.ones(8))
    normalised = {"test": np.stack([proxy, proxy, good, good])}
    test_shift = world.distributions["test"].shift
    rates = predicate_rates(world, config, normalised, "proxy_on_heldout", 0.5, 0.5, np.array([0.0, 0.0, test_shift, test_shift]))
    assert set(rates) == {("test", "all", 0.0), ("test", "all", float(test_shift))}
    assert rates[("test", "all", 0.0)].share == 1.0 and rates[("test", "all", float(test_shift))].share == 0.0  # not pooled to 1/2
    assert held_out(world, "test", 0.0) and not held_out(world, "test", test_shift)
