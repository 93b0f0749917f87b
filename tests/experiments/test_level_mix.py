"""The level-mix sampler and the adversarial bank on cases with known answers.

Coin world facts used: a training level has the coin on the exit; a test level never does (the
random coin excludes the exit). So "coin != exit" tells pool draws from training draws exactly.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope import worlds
from mesascope.agents.ppo import Hyper, PPOConfig, make_train
from mesascope.diagnose.identify import IdentifyConfig, _level_analysis
from mesascope.experiments import adversarial_bank, level_mix
from mesascope.experiments.evaluate import EVAL_SALT
from mesascope.worlds import planning
from mesascope.testing import binomial_interval

DRAWS = 4000
CONFIDENCE = 0.9999  # a false alarm once in 10^4 runs; the draws are seeded, so it is stable anyway


@functools.cache
def _coin() -> worlds.World:
    return worlds.make("coin")


@functools.cache
def _bank(name: str = "coin", pool_size: int = 512, bank_size: int = 32) -> adversarial_bank.AdversarialBank:
    return adversarial_bank.build_bank(worlds.make(name) if name != "coin" else _coin(), seed=3, pool_size=pool_size, bank_size=bank_size)


@functools.cache
def _adversarial() -> worlds.World:
    return level_mix.mixed(_coin(), "adversarial", _bank().levels)


def _draw(world: worlds.World, q: float, count: int = DRAWS, seed: int = 0):
    return jax.jit(world.sample_levels, static_argnums=2)(jax.random.key(seed), q, count)


def _fingerprints(levels, count: int) -> list[bytes]:
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(levels)]
    return [b"".join(leaf[i].tobytes() for leaf in leaves) for i in range(count)]


def _in_bank(levels, count: int) -> np.ndarray:
    bank = set(_fingerprints(_bank().levels, 32))
    return np.array([f in bank for f in _fingerprints(levels, count)])


# ------------------------------------------------------------------------- the share q
@pytest.mark.parametrize("q", [0.0, 0.05, 0.3, 1.0])
def test_test_pool_share_is_q_and_equals_the_coin_dial(q):
    levels = _draw(level_mix.mixed(_coin(), "test"), q)
    moved = int(np.any(np.asarray(levels.coin) != np.asarray(levels.exit), axis=-1).sum())
    if q in (0.0, 1.0):
        assert moved == q * DRAWS  # q = 0 never draws from the pool, q = 1 always does
    else:
        low, high = binomial_interval(DRAWS, q, CONFIDENCE)
        assert low <= moved <= high, (moved, low, high)


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 1.0])
def test_adversarial_pool_share_is_q(q):
    from_bank = _in_bank(_draw(_adversarial(), q), DRAWS)
    if q in (0.0, 1.0):
        assert from_bank.sum() == q * DRAWS
    else:
        low, high = binomial_interval(DRAWS, q, CONFIDENCE)
        assert low <= from_bank.sum() <= high


def test_bank_levels_are_drawn_uniformly():
    levels = _draw(_adversarial(), 1.0, seed=1)
    index = {f: i for i, f in enumerate(_fingerprints(_bank().levels, 32))}
    counts = np.bincount([index[f] for f in _fingerprints(levels, DRAWS)], minlength=32)
    low, high = binomial_interval(DRAWS, 1 / 32, 1 - 1e-4 / 32)  # Bonferroni over the 32 levels
    assert np.all((counts >= low) & (counts <= high)), counts


def test_at_q_one_every_level_played_through_auto_reset_is_from_the_bank():
    world = _adversarial()
    batch, steps = 16, 3 * world.max_steps

    def play(key):
        level_key, run_key = jax.random.split(key)
        first = jax.vmap(world.initial_timestep)(jax.random.split(level_key, batch), world.sample_levels(level_key, 1.0, batch))

        def one_step(timestep, step_key):
            action_key, world_key = jax.random.split(step_key)
            actions = jax.random.randint(action_key, (batch,), 0, world.num_actions)
            nxt = jax.vmap(world.step, in_axes=(0, 0, 0, None))(jax.random.split(world_key, batch), timestep.state, actions, 1.0)
            return nxt, (nxt.state.level, nxt.done)

        return jax.lax.scan(one_step, first, jax.random.split(run_key, steps))[1]

    levels, done = jax.jit(play)(jax.random.key(2))
    assert np.asarray(done).sum() > batch  # episodes ended, so fresh levels were drawn
    flat = jax.tree.map(lambda leaf: np.asarray(leaf).reshape((-1,) + leaf.shape[2:]), levels)
    assert _in_bank(flat, steps * batch).all()


@functools.cache
def _tiny_trainer():
    config = PPOConfig(total_steps=512, num_envs=16, num_steps=32, minibatches=2, width=16, depth=1)
    trainer = make_train(config, _adversarial())
    return jax.jit(trainer.init), jax.jit(lambda runner, hyper: trainer.run(runner, hyper, 2))


@pytest.mark.parametrize("q, expected", [(1.0, True), (0.0, False)])
def test_ppo_on_the_wrapper_plays_bank_levels_exactly_when_q_is_one(q, expected):
    """The trainer the runner builds: after init and two updates (episodes ended, levels were
    redrawn), every environment plays a bank level at q = 1 and none does at q = 0."""
    init, run = _tiny_trainer()
    hyper = Hyper.make(shift=q)
    runner = init(jax.random.key(0), hyper)
    assert np.all(_in_bank(runner.timestep.state.level, 16) == expected)
    runner, metrics = run(runner, hyper)
    assert np.asarray(metrics["episodes"]).sum() > 16
    assert np.all(_in_bank(runner.timestep.state.level, 16) == expected)


# -------------------------------------------------------------------------------- the bank
def test_bank_is_the_top_of_a_brute_force_ranking():
    world = worlds.make("coin", size=7)
    bank = adversarial_bank.build_bank(world, seed=5, pool_size=96, bank_size=12)
    levels, twins = adversarial_bank.candidate_levels(world, 5, 96)
    analyse = jax.jit(lambda level: _level_analysis(world, level, IdentifyConfig())[0])
    first_obs = jax.jit(lambda level: world.reset(jax.random.key(0), level)[0])
    separation, cells = [], []
    for i in range(96):  # one level at a time, through a different path than the batched scoring
        level, twin = (jax.tree.map(lambda leaf: leaf[i], tree) for tree in (levels, twins))
        separation.append(np.asarray(analyse(level))[0, 1:].max())
        cells.append(int(np.any(np.asarray(first_obs(level)) != np.asarray(first_obs(twin)), axis=-1).sum()))
    order = sorted(range(96), key=lambda i: (-separation[i], cells[i], i))
    prints = _fingerprints(levels, 96)
    expected = []
    for i in order:
        if prints[i] not in {prints[j] for j in expected}:
            expected.append(i)
    np.testing.assert_array_equal(bank.indices, expected[:12])
    np.testing.assert_allclose(bank.separation, np.asarray(separation)[expected[:12]], rtol=1e-6)
    np.testing.assert_allclose(bank.candidate_separation, separation, rtol=1e-6)
    assert bank.separation.min() >= np.max(np.delete(np.asarray(separation), expected[:12]))
    assert np.all(np.diff(bank.separation) <= 0)


def test_coin_bank_separates_coin_from_exit_on_most_states():
    bank = _bank()
    assert bank.separation.min() > 0.5
    assert bank.separation.mean() > 2 * bank.candidate_separation.mean()
    assert np.all(np.any(np.asarray(bank.levels.coin) != np.asarray(bank.levels.exit), axis=-1))  # test-distribution levels
    assert len(set(_fingerprints(bank.levels, 32))) == 32


def test_candidates_never_use_the_evaluation_key():
    key = adversarial_bank.candidate_key(0)
    evaluation = jax.random.fold_in(jax.random.PRNGKey(0), EVAL_SALT)
    assert not np.array_equal(np.asarray(key), np.asarray(evaluation))
    assert adversarial_bank.ADVERSARIAL_SALT != EVAL_SALT


def test_a_world_with_too_few_layouts_cannot_fill_the_bank():
    world = worlds.make("coin", size=5, layout="open")  # 3 start rows x 3 exit rows x few coin cells
    with pytest.raises(ValueError, match="adversarial_bank: only"):
        adversarial_bank.build_bank(world, pool_size=64, bank_size=64)


@pytest.mark.parametrize("pool_size, bank_size, words", [(0, 1, "adversarial_pool must be >= 1"), (8, 9, "adversarial_bank must be in [1, adversarial_pool] = [1, 8]")])
def test_bad_bank_sizes_are_refused(pool_size, bank_size, words):
    with pytest.raises(ValueError) as error:
        adversarial_bank.build_bank(_coin(), pool_size=pool_size, bank_size=bank_size)
    assert words in str(error.value)


# -------------------------------------------------------------------------- delegation
def test_wrapper_plays_exactly_like_the_base_world():
    world, base = _adversarial(), _coin()
    levels = jax.tree.map(lambda a, b: jnp.concatenate([a[:4], b[:4]]), _bank().levels, _draw(base, 0.0, 4))
    tabulate = {w: jax.jit(functools.partial(planning.tabulate, w)) for w in (world, base)}
    for i in range(8):
        level = jax.tree.map(lambda leaf: leaf[i], levels)
        ours, theirs = tabulate[world](level), tabulate[base](level)
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
            np.testing.assert_array_equal(a, b)
        _, state = world.reset(jax.random.key(0), level)
        np.testing.assert_array_equal(world.render_state(state), base.render_state(state))
        np.testing.assert_array_equal(world.observe(level, state.inner), base.observe(level, state.inner))
    for name in ("objectives", "action_names", "causal_edges", "max_steps", "observation_shape", "num_tabular_states", "summary"):
        assert getattr(world, name) == getattr(base, name), name
    assert world.shift_name == "q_adversarial" and world.shift_range == (0.0, 1.0)
    assert base.describe() in world.describe()


def test_training_world_and_bad_pools():
    base = _coin()
    assert level_mix.training_world(base, "none") is base
    assert level_mix.training_world(base, "test").shift_name == "q_test"
    with pytest.raises(ValueError, match=r"level_mix must be one of \['none', 'test', 'adversarial'\]"):
        level_mix.training_world(base, "random")
    with pytest.raises(ValueError, match="pool must be one of"):
        level_mix.mixed(base, "train")
    with pytest.raises(ValueError, match="needs a bank"):
        level_mix.mixed(base, "adversarial")
