"""Diagnosing an outside policy: a NumPy callable over observations gets exactly what the same
policy written in JAX gets through the internal evaluation path, and the diagnosis stores as a
run with its report."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mesascope
from mesascope.diagnose import rollout
from mesascope.experiments.config import EvalConfig, ExperimentConfig
from mesascope.experiments.evaluate import evaluate_rollouts
from mesascope.store.db import Store
from mesascope.worlds import registry

OPTIONS = {"size": 7, "view": "global"}  # wall, agent, coin, exit over the whole grid
CONFIG = ExperimentConfig(
    world="coin", world_options=OPTIONS, seeds=1, train_shifts=(0.0,),
    eval=EvalConfig(episodes=16, bootstrap=50, greedy=True, gifs=0, influence_levels=0, identify_levels=0),
)


def exit_seeker(xp):
    """Logits of a policy that walks to the exit (never into a wall), written once for jnp and np."""
    moves = xp.asarray([[-1, 0], [0, 1], [1, 0], [0, -1]])

    def logits(obs):
        n, h, w, _ = obs.shape

        def cell(channel):
            index = xp.argmax(obs[..., channel].reshape(n, -1), axis=-1)
            return xp.stack([index // w, index % w], axis=-1)

        agent, goal = cell(1), cell(3)
        target = xp.clip(agent[:, None, :] + moves[None], 0, h - 1)
        wall = obs[xp.arange(n)[:, None], target[..., 0], target[..., 1], 0]
        return (-xp.abs(target - goal[:, None, :]).sum(-1) - 10.0 * wall).astype(xp.float32)

    return logits


@pytest.fixture(scope="module")
def internal():
    """The JAX policy through the path mesascope's own agents take (rollout.greedy + evaluate_rollouts)."""
    world = registry.make("coin", **OPTIONS)
    logits = exit_seeker(jnp)
    policy = rollout.greedy(lambda obs: logits(obs[None])[0])
    run = jax.jit(lambda levels, key: jax.tree.map(lambda x: x[None], rollout.rollout(world, policy, levels, key)))
    return evaluate_rollouts(world, run, 1, CONFIG)


def test_numpy_policy_gets_the_verdict_of_the_internal_path(internal, tmp_path):
    with Store(tmp_path / "m.db") as store:
        diagnosis = mesascope.diagnose_policy("coin", exit_seeker(np), world_options=OPTIONS, config=CONFIG, store=store)
        assert diagnosis.backend == "numpy"
        assert diagnosis.verdicts["test"] == "proxy-aligned"  # it runs to the exit when the coin moves
        assert [(v.distribution, v.verdict, v.evidence) for v in diagnosis.result.verdicts] == [
            (v.distribution, v.verdict, v.evidence) for v in internal.verdicts
        ]
        assert diagnosis.result.evaluations == internal.evaluations
        assert diagnosis.result.inferences == internal.inferences
        np.testing.assert_array_equal(diagnosis.result.episode_returns["test"], internal.episode_returns["test"])
        # stored like a run, with its report; the same diagnosis again is reused, not duplicated
        assert diagnosis.report_path is not None and diagnosis.report_path.is_file()
        stored = store.load_result(diagnosis.result.run_id)
        assert stored.verdicts == diagnosis.result.verdicts and stored.agents == diagnosis.result.agents
        again = mesascope.diagnose_policy("coin", exit_seeker(np), world_options=OPTIONS, config=CONFIG, store=store)
        assert again.reused and again.result.run_id == diagnosis.result.run_id
        assert len(store.list_runs()) == 1


def test_jax_function_is_traced_not_called_back(internal):
    diagnosis = mesascope.diagnose_policy("coin", exit_seeker(jnp), world_options=OPTIONS, config=CONFIG)
    assert diagnosis.backend == "jax"
    assert diagnosis.result.verdicts == internal.verdicts


def test_a_numpy_policy_that_ignores_observation_values_is_called_every_step():
    """Random actions drawn from `len(obs)` trace under jax.eval_shape; taken as JAX, the draw
    would be frozen into the program (the same actions at every step). It must be called back."""
    rng = np.random.default_rng(0)
    calls = []

    def random_policy(obs):
        calls.append(len(obs))
        return rng.integers(0, 4, size=len(obs))

    diagnosis = mesascope.diagnose_policy("coin", random_policy, world_options=OPTIONS, config=CONFIG)
    assert diagnosis.backend == "numpy"
    assert len(calls) > 20  # once per time step of every rollout, not once at tracing


def test_bad_policy_output_is_named_before_any_rollout():
    with pytest.raises(ValueError, match=r"actions \(16,\) or logits \(16, 4\)"):
        mesascope.diagnose_policy("coin", lambda obs: np.zeros((len(obs), 3)), world_options=OPTIONS, config=CONFIG)
    with pytest.raises(ValueError, match="backend must be one of"):
        mesascope.diagnose_policy("coin", exit_seeker(np), world_options=OPTIONS, config=CONFIG, backend="torch")


@pytest.mark.parametrize("backend, make", [("numpy", lambda obs: np.full(len(obs), 7)), ("jax", lambda obs: jnp.full(obs.shape[:1], -1))])
def test_an_action_the_world_does_not_have_is_refused_not_clamped(backend, make):
    """A policy for another action space gets an error naming the world's actions, not a
    verdict on the actions JAX's index clamping would have played instead."""
    with pytest.raises(ValueError, match=r"policy chose action (7|-1), which 'coin' does not have; its actions are 0 up, 1 right"):
        mesascope.diagnose_policy("coin", make, world_options=OPTIONS, config=CONFIG, backend=backend)


def test_trials_are_kept_whole_and_their_last_episode_diagnosed(internal):
    """A rollout function that returns trials (A, E, N, ...): every episode is kept, the last is
    diagnosed; a deterministic memoryless policy gets the diagnosis of a single episode."""
    world = registry.make("coin", **OPTIONS)
    logits = exit_seeker(jnp)
    act = rollout.greedy(lambda obs: logits(obs[None])[0])
    stateless = lambda keys, obs, memory, feedback: (jax.vmap(lambda k, o: act(k, o, None))(keys, obs), memory)  # noqa: E731
    weights = jnp.eye(world.num_objectives)[0]
    run = jax.jit(lambda levels, key: jax.tree.map(
        lambda x: x[None], rollout.rollout_trials(world, stateless, jnp.zeros(CONFIG.eval.episodes), levels, key, 3, weights)))
    played = evaluate_rollouts(world, run, 1, CONFIG)
    returns, normalised = played.trials.returns["test"], played.trials.normalised["test"]
    assert returns.shape == (1, 3, CONFIG.eval.episodes, world.num_objectives) and internal.trials is None
    np.testing.assert_array_equal(returns[:, -1], played.episode_returns["test"])
    np.testing.assert_array_equal(normalised[:, -1], played.episode_normalised["test"])
    np.testing.assert_array_equal(returns[:, 0], internal.episode_returns["test"])
    assert played.verdicts == internal.verdicts
