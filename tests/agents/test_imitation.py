"""Imitation learners: deterministic per key, vmapped over seeds and knobs, BC fits its expert.
DAgger's relabelling is checked end to end in tests/commands/test_imitate.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.experts import ExpertSpec
from mesascope.agents.imitation import ImitationConfig, make_imitation
from mesascope.agents.ppo import Hyper, PPOConfig
from mesascope.worlds.detour import DetourWorld

TINY = ImitationConfig(updates=60, minibatch=32, dataset_episodes=16, dagger_episodes=2, dagger_buffer=8, learning_rate=3e-3)
NETWORK = PPOConfig(width=16, depth=1)


@pytest.fixture(scope="module")
def world():
    return DetourWorld()


def train(trainer, keys, l2):
    """Train one clone per key (and L2 value) in one vmapped program; (state, metrics)."""
    hyper = Hyper(shift=jnp.zeros(len(keys)), l2=jnp.asarray(l2, jnp.float32), l1=jnp.zeros(len(keys)))
    state = jax.jit(jax.vmap(trainer.init))(keys, hyper)
    return jax.jit(jax.vmap(lambda s, h: trainer.run(s, h, trainer.config.num_updates)))(state, hyper)


@pytest.fixture(scope="module")
def bc(world):
    trainer = make_imitation(TINY, NETWORK, world, ExpertSpec(horizon=4), "bc")
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(0), jax.random.PRNGKey(1), jax.random.PRNGKey(0)])
    return train(trainer, keys, [0.0, 0.0, 0.0, 0.1])


def test_bc_is_deterministic_per_key_and_differs_across_keys_and_knobs(bc):
    state, _ = bc
    leaves = [np.asarray(x) for x in jax.tree.leaves(state.params)]
    assert all(np.array_equal(x[0], x[1]) for x in leaves)
    assert not all(np.array_equal(x[0], x[2]) for x in leaves)
    assert not all(np.array_equal(x[0], x[3]) for x in leaves)  # same key, L2 0.1: another clone


def test_bc_fits_the_expert_on_its_data(bc):
    _, metrics = bc
    cross_entropy = np.asarray(metrics["cross_entropy"])
    assert np.all(np.isfinite(cross_entropy))
    # soft targets over tied expert actions put a floor (their entropy) under the cross-entropy
    assert cross_entropy[:3, -10:].mean() < cross_entropy[:3, :5].mean() - 0.3
    agreement = np.asarray(metrics["agreement"])[:3]
    assert agreement[:, -10:].mean() > max(0.75, agreement[:, :5].mean() + 0.2)


def test_bc_data_are_expert_states_with_the_experts_action_distribution(bc):
    state, metrics = bc
    valid = np.asarray(state.valid)
    targets = np.asarray(state.targets)[valid]
    assert valid.shape[1] == 16 and valid[:, :, 0].all()  # every episode starts with a labelled state
    np.testing.assert_allclose(targets.sum(-1), 1.0, rtol=1e-5)
    assert np.asarray(metrics["data_states"])[0, 0] == valid[0].sum()


def test_unknown_learner_is_refused(world):
    with pytest.raises(ValueError, match="learner must be one of"):
        make_imitation(TINY, NETWORK, world, ExpertSpec(), "gail")
