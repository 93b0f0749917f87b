"""Knobs of the PPO trainer as a population axis, the thinking-budget actor and its speed prior,
and the internals-selection penalty: the trainer tests every agent family passes (determinism
per key, one program for every traced value, no LAPACK inside vmapped training)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesascope.agents.networks import ActorCritic, ThinkingActorCritic, _halting_distribution, make_network
from mesascope.agents.ppo import Hyper, PPOConfig, make_train
from mesascope.worlds import registry

TINY = dict(total_steps=6 * 256, num_envs=8, num_steps=32, epochs=2, minibatches=2, width=16)


@pytest.fixture(scope="module")
def world():
    return registry.make("coin", layout="open", size=7)


def _train(world, config: PPOConfig, hyper: Hyper, seeds: int = 2, **kwargs):
    trainer = make_train(config, world, **kwargs)
    train = jax.jit(jax.vmap(trainer.train))
    return train(jax.random.split(jax.random.PRNGKey(0), seeds), hyper)


def _leaves_equal(a, b) -> bool:
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _batched(count: int, **knobs) -> Hyper:
    return Hyper.make(shift=np.zeros(count), l2=np.zeros(count), l1=np.zeros(count), **knobs)


def test_halting_distribution_sums_to_one_and_stops_at_the_first_certain_halt():
    halts = jnp.array([[0.5, 0.5, 0.5], [1.0, 0.3, 0.9], [0.0, 0.0, 0.0]])
    weights = np.asarray(_halting_distribution(halts))
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(weights[0], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(weights[1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(weights[2], [0.0, 0.0, 1.0])  # never halting: the last iteration decides


def test_thinking_actor_ties_its_block_and_reports_its_compute(world):
    obs = jnp.zeros((5,) + world.observation_shape, jnp.uint8)
    short, long = ThinkingActorCritic(world.num_actions, 16, 1, steps=2), ThinkingActorCritic(world.num_actions, 16, 1, steps=6)
    count = lambda net: sum(x.size for x in jax.tree.leaves(net.init(jax.random.PRNGKey(0), obs)))  # noqa: E731
    assert count(short) == count(long)  # more thinking, not more parameters
    halting = ThinkingActorCritic(world.num_actions, 16, 1, steps=4, halting=True)
    params = halting.init(jax.random.PRNGKey(0), obs)
    log_probs, value, expected = halting.apply(params, obs, method=halting.with_compute)
    np.testing.assert_allclose(np.exp(np.asarray(log_probs)).sum(-1), 1.0, rtol=1e-5)
    assert value.shape == (5,) and np.all((np.asarray(expected) >= 1) & (np.asarray(expected) <= 4))
    plain = ActorCritic(world.num_actions, 16, 1)
    _, _, none = plain.apply(plain.init(jax.random.PRNGKey(0), obs), obs, method=plain.with_compute)
    assert np.all(np.asarray(none) == 0)


def test_make_network_refuses_halting_without_a_budget():
    with pytest.raises(ValueError, match="thinking_steps"):
        make_network(5, 16, 1, thinking_steps=0, halting=True)
    with pytest.raises(ValueError, match="thinking_steps"):
        make_network(5, 16, 1, thinking_steps=-1)


LR = PPOConfig().learning_rate  # the reference agent's knobs are the static config's values
KNOBS = {  # agent: (learning rate, entropy coefficient, reward weights over (coin, exit)); one seed
    "reference": (LR, 0.01, [0.0, 1.0]),
    "more entropy": (LR, 0.5, [0.0, 1.0]),
    "frozen": (0.0, 0.01, [0.0, 1.0]),
    "reference again": (LR, 0.01, [0.0, 1.0]),
    "no reward": (LR, 0.01, [0.0, 0.0]),
}


@pytest.fixture(scope="module")
def traced(world):
    """One compiled program training five agents that differ only in their traced knobs."""
    config = PPOConfig(**TINY)
    trainer = make_train(config, world)
    train = jax.jit(jax.vmap(trainer.train))
    keys = jnp.stack([jax.random.PRNGKey(0)] * len(KNOBS))
    lr, entropy, weights = (list(column) for column in zip(*KNOBS.values()))
    hyper = _batched(len(KNOBS), learning_rate=lr, entropy_coef=entropy, reward_weights=weights)
    params, _ = train(keys, hyper)
    agents = {name: jax.tree.map(lambda x, i=i: x[i], params) for i, name in enumerate(KNOBS)}
    initial = jax.tree.map(lambda x: x[0], jax.vmap(trainer.init)(keys, hyper).params)
    return config, train, keys, agents, initial


def test_traced_knobs_change_what_they_should(traced):
    _, _, _, agents, initial = traced
    assert _leaves_equal(agents["frozen"], initial)  # a learning rate of 0 leaves the agent untouched
    assert not _leaves_equal(agents["reference"], initial)
    assert _leaves_equal(agents["reference"], agents["reference again"])  # equal knobs and key: the same agent
    assert not _leaves_equal(agents["reference"], agents["more entropy"])  # the entropy coefficient enters the loss
    assert not _leaves_equal(agents["reference"], agents["no reward"])  # so do the reward weights (coin and exit coincide in training)


def test_new_knob_values_reuse_the_compiled_program(traced):
    _, train, keys, _, _ = traced
    count = len(KNOBS)
    train(keys, _batched(count, learning_rate=np.linspace(1e-4, 1e-3, count), entropy_coef=np.linspace(0, 0.2, count),
                         reward_weights=np.tile([0.5, 0.5], (count, 1))))
    assert train._cache_size() == 1


def test_traced_knobs_at_the_config_values_reproduce_the_static_trainer(world, traced):
    """Same seeds, same batch shape: the traced knobs at the static config's values train the same
    agent, up to float rounding (constants fold differently from traced values)."""
    config, _, keys, agents, _ = traced
    static = jax.jit(jax.vmap(make_train(config, world, reward_weights=jnp.array([0.0, 1.0])).train))
    params, _ = static(keys, _batched(len(KNOBS)))
    for got, want in zip(jax.tree.leaves(jax.tree.map(lambda x: x[0], params)), jax.tree.leaves(agents["reference"])):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-6)


def test_thinking_agent_trains_deterministically_and_the_time_penalty_cuts_its_compute(world):
    config = PPOConfig(**{**TINY, "total_steps": 12 * 256}, thinking_steps=4, halting=True)
    hyper = _batched(2, time_penalty=[0.0, 0.5])
    train = jax.jit(jax.vmap(make_train(config, world).train))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    params, metrics = train(keys, hyper)
    again, _ = train(keys, hyper)
    assert _leaves_equal(params, again)  # determinism per key
    thinking = np.asarray(metrics["thinking_steps"])
    assert np.all(np.isfinite(thinking)) and np.all((thinking >= 1) & (thinking <= 4))
    assert thinking[1, -1] < thinking[0, -1] and thinking[1, -1] < thinking[1, 0]


def test_channel_penalty_makes_the_policy_less_sensitive_to_the_channel(world):
    config = PPOConfig(**{**TINY, "total_steps": 12 * 256})
    _, metrics = _train(world, config, _batched(2, channel_penalty=[0.0, 5.0]), penalised_channel="coin")
    sensitivity = np.asarray(metrics["channel_sensitivity"])
    assert np.all(np.isfinite(sensitivity))
    assert sensitivity[1, -3:].mean() < sensitivity[0, -3:].mean()
    with pytest.raises(ValueError, match="observation channels"):
        make_train(config, world, penalised_channel="lava")


def test_no_lapack_in_the_compiled_training_program(world):
    config = PPOConfig(**TINY, thinking_steps=2, halting=True)
    trainer = make_train(config, world, penalised_channel="coin")
    lowered = jax.jit(jax.vmap(trainer.train)).lower(jax.random.split(jax.random.PRNGKey(0), 2), _batched(2, time_penalty=[0.1, 0.1]))
    text = lowered.as_text().lower()
    for name in ("lapack", "geqrf", "householder", "cholesky", "eigh", "svd", "triangular_solve"):
        assert name not in text


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_fused_actor_critic_computes_the_two_mlps(world, depth):
    """The fused first layer is an implementation detail: same parameters, same function."""
    from mesascope.agents.networks import MLP, flatten_observation

    net = ActorCritic(world.num_actions, 16, depth)
    obs = (jax.random.uniform(jax.random.PRNGKey(1), (7,) + world.observation_shape) < 0.3).astype(jnp.uint8)
    params = net.init(jax.random.PRNGKey(0), obs)
    logits, value = net.apply(params, obs)
    x = flatten_observation(obs)
    want_logits = MLP(16, depth, world.num_actions, head_scale=0.01).apply({"params": params["params"]["actor"]}, x)
    want_value = MLP(16, depth, 1).apply({"params": params["params"]["critic"]}, x)[..., 0]
    np.testing.assert_allclose(np.asarray(logits), np.asarray(want_logits), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(value), np.asarray(want_value), rtol=1e-5, atol=1e-6)


def test_halting_without_a_thinking_budget_is_refused_before_any_work():
    from mesascope.experiments import config as C

    with pytest.raises(C.ConfigError, match="ppo.halting needs a thinking budget"):
        C.apply_overrides(C.ExperimentConfig(), ["ppo.halting=true"])
    C.apply_overrides(C.ExperimentConfig(), ["ppo.halting=true", "ppo.thinking_steps=3"])  # with a budget it is fine


def test_shared_input_layer_feeds_both_heads_and_trains_deterministically(world):
    """`ppo.shared_input`: one first layer whose features both heads read (so a change to it moves
    the logits and the value), the same training for the same key, and no LAPACK in the program."""
    config = PPOConfig(**{**TINY, "shared_input": True})
    trainer = make_train(config, world)
    params = trainer.init(jax.random.PRNGKey(0), Hyper.make()).params["params"]
    assert set(params) == {"input", "actor", "critic"}
    assert params["input"]["kernel"].shape == (int(np.prod(world.observation_shape)), 16)
    assert params["actor"]["Dense_0"]["kernel"].shape == (16, 16)  # above the shared layer, not over the grid
    obs = (jax.random.uniform(jax.random.PRNGKey(1), (5,) + world.observation_shape) < 0.3).astype(jnp.uint8)
    moved = jax.tree_util.tree_map_with_path(lambda path, leaf: leaf + 0.5 if "input" in jax.tree_util.keystr(path) else leaf, {"params": params})
    before, after = trainer.network.apply({"params": params}, obs), trainer.network.apply(moved, obs)
    assert not np.allclose(before[0], after[0]) and not np.allclose(before[1], after[1])
    train = jax.jit(trainer.train)
    first, _ = train(jax.random.PRNGKey(3), Hyper.make())
    second, _ = train(jax.random.PRNGKey(3), Hyper.make())
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second)))
    hlo = jax.jit(jax.vmap(trainer.train)).lower(jax.random.split(jax.random.PRNGKey(0), 2), _batched(2)).as_text()
    assert "lapack" not in hlo.lower()


def test_shared_input_is_refused_where_there_is_no_plain_mlp_before_any_work():
    from mesascope.experiments import config as C

    with pytest.raises(C.ConfigError, match="ppo.shared_input applies to the plain MLP actor-critic"):
        C.apply_overrides(C.ExperimentConfig(), ["ppo.shared_input=true", "ppo.thinking_steps=2"])
    with pytest.raises(C.ConfigError, match="ppo.shared_input"):
        C.apply_overrides(C.ExperimentConfig(), ["ppo.shared_input=true", "agent=recurrent"])
    with pytest.raises(ValueError, match="shared_input"):
        make_network(4, 16, 2, thinking_steps=2, shared_input=True)
    C.apply_overrides(C.ExperimentConfig(), ["ppo.shared_input=true"])  # the plain MLP takes it


@pytest.mark.parametrize("network", [{}, {"shared_input": True}, {"thinking_steps": 2, "halting": True}])
def test_object_lookup_is_the_dense_first_layer_in_function_and_gradient(world, network):
    """`ppo.object_lookup` reads single-object channels by a row lookup: on real observations
    (objects present, moved out of view, or gone) the logits, values and parameter gradients are
    those of the dense first layer up to float rounding, for the plain, shared-input and thinking
    actor-critics, and the trainer stays deterministic."""
    dense_config, lookup_config = (PPOConfig(**{**TINY, **network, "object_lookup": flag}) for flag in (False, True))
    dense, lookup = make_train(dense_config, world).network, make_train(lookup_config, world).network
    assert lookup.one_hot_channels == world.one_hot_channels == (1, 2) and dense.one_hot_channels == ()
    levels = world.sample_levels(jax.random.PRNGKey(4), 1.0, 16)
    obs = jax.vmap(lambda level: world.observe(level, world.start(level)))(levels)
    obs = obs.at[:4, ..., 1].set(0)  # some without a coin in view
    params = dense.init(jax.random.PRNGKey(0), obs[0])
    params = jax.tree.map(lambda leaf: leaf + 0.1 * jax.random.normal(jax.random.PRNGKey(5), leaf.shape), params)  # nonzero heads
    for got, want in zip(lookup.apply(params, obs), dense.apply(params, obs)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    loss = lambda network: jax.grad(lambda p: sum(jnp.sum(jnp.sin(out)) for out in network.apply(p, obs)))(params)  # noqa: E731
    for got, want in zip(jax.tree.leaves(loss(lookup)), jax.tree.leaves(loss(dense))):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)
    trainer = make_train(lookup_config, world)
    first, _ = jax.jit(trainer.train)(jax.random.PRNGKey(3), Hyper.make())
    second, _ = jax.jit(trainer.train)(jax.random.PRNGKey(3), Hyper.make())
    assert _leaves_equal(first, second)


def test_runs_stored_before_the_object_lookup_load_with_the_dense_layer():
    """A stored config that predates `ppo.object_lookup` was trained with the dense first layer,
    and rebuilds so; a new config keeps what it says."""
    from mesascope.experiments import config as C

    stored = C.ExperimentConfig().to_dict()
    assert C.from_dict(stored).ppo.object_lookup is True
    del stored["ppo"]["object_lookup"]
    assert C.from_dict(stored).ppo.object_lookup is False
