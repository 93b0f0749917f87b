"""The learned grader, the grader-optimizer and a stored, resumable Goodhart study (tiny
configs), and bad `mesascope goodhart` specs refused before any work."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from mesascope.agents import grader as grader_module
from mesascope.agents.planner_agent import planner_for
from mesascope.agents.ppo import PPOConfig
from mesascope.cli import app
from mesascope.experiments.goodhart import GoodhartConfig, run_goodhart
from mesascope.store.db import Store
from mesascope.worlds import registry

TINY_GRADER = grader_module.GraderConfig(labels=64, fit_steps=150, width=8, envs=8, learning_rate=1e-2)


def test_grader_optimizer_of_a_perfect_grader_is_the_intended_planner():
    """The coin's reward is 'the coin channel lit at the centre of the egocentric view'; planning
    for that grade must collect the coin exactly as often as the intended planner."""
    world = registry.make("coin", size=5)
    centre = world.observation_shape[0] // 2
    coin = world.observation_channels.index("coin")
    grade = lambda obs: obs[..., centre, centre, coin].astype(jnp.float32)  # noqa: E731
    levels = world.sample_levels(jax.random.PRNGKey(4), 1.0, 6)
    key = jax.random.PRNGKey(1)
    planned, graded, _ = jax.jit(lambda k: grader_module.graded_rollout(world, grader_module.grader_planner_policy(world, grade), levels, k, grade))(key)
    intended, _, _ = jax.jit(lambda k: grader_module.graded_rollout(world, planner_for(world, "coin"), levels, k, grade))(key)
    np.testing.assert_array_equal(np.asarray(planned[:, 0]), np.asarray(intended[:, 0]))
    np.testing.assert_array_equal(np.asarray(graded), np.asarray(planned[:, 0]))
    assert float(planned[:, 0].mean()) == 1.0


def test_minibatch_fit_learns_its_labels_and_reports_the_full_data_mse():
    """Graders fitted on minibatches (seeds one after another) beat the constant on their labels,
    and the reported MSE is over every labelled step, not the last minibatch."""
    world = registry.make("coin", size=5)
    config = grader_module.GraderConfig(labels=96, fit_steps=200, width=8, envs=8, learning_rate=1e-2, batch=16, planner_share=0.0)
    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    params, mse, label_var = jax.device_get(grader_module.fit(world, keys, config))
    assert mse.shape == (2,) and np.all(label_var > 0) and np.all(mse < 0.5 * label_var)
    obs, labels = jax.jit(lambda k: grader_module.dataset(world, k, config))(jax.random.split(keys[0])[0])
    first = jax.tree.map(lambda x: x[0], params)
    full = float(jnp.mean((grader_module.grade_fn(config, first)(obs) - labels) ** 2))
    assert full == pytest.approx(float(mse[0]), rel=1e-4, abs=1e-6)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A tiny study with every pressure, run once, then resumed after losing its last stage."""
    config = GoodhartConfig(
        world="coin", world_options={"size": 5}, grader=TINY_GRADER, graders=2, bon=(1, 2, 4), rl=True, levels=4, kl_episodes=1,
        checkpoints=2, checkpoint_spacing="geometric",
        ppo=PPOConfig(total_steps=256, num_envs=4, num_steps=32, minibatches=1, epochs=1, width=4, depth=1),
    )
    with Store(tmp_path_factory.mktemp("goodhart") / "db.sqlite") as store:
        first = run_goodhart(config, store)
        stamp = (first.folder / "graders.safetensors").stat().st_mtime_ns
        (first.folder / "bon.safetensors").unlink()
        second = run_goodhart(config, store)
    return config, first, second, stamp


def test_study_is_stored_and_resumed_stage_by_stage(study):
    _, first, second, stamp = study
    arrays = first.arrays
    assert arrays["bon_true"].shape == (2, 3) and arrays["plan_true"].shape == (2,)
    np.testing.assert_array_equal(arrays["rl_steps"], [0, 128, 256])  # initial, then geometric: updates 1 and 2
    assert arrays["rl_kl"].shape == (2, 3) and np.all(arrays["rl_kl"][:, 0] == 0) and np.all(arrays["rl_kl"] >= 0)
    assert (first.folder / "graders.safetensors").stat().st_mtime_ns == stamp
    assert (first.folder / "bon.safetensors").exists()
    for name, value in arrays.items():
        np.testing.assert_array_equal(second.arrays[name], value)


def test_graders_fit_their_labels_better_than_a_constant(study):
    arrays = study[1].arrays
    assert np.all(arrays["label_var"] > 0) and np.all(arrays["grader_mse"] < 0.5 * arrays["label_var"])


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--pressure", "bon=1,-4"], "every n must be an integer >= 1"),
        (["--pressure", "rl", "--base", "none"], "measured as KL from a base policy"),
        (["--pressure", "kl"], "unknown pressure"),
        (["--grader", "forest"], "--grader must be one of"),
        (["--pressure", "rl", "--rl-checkpoints", "0"], "--rl-checkpoints must be an integer in [1, 100]"),
        (["--pressure", "rl", "--rl-checkpoints", "-3"], "--rl-checkpoints must be an integer in [1, 100]"),
        (["--pressure", "rl", "--rl-spacing", "log"], "--rl-spacing must be one of ['even', 'geometric']"),
        (["--pressure", "rl", "--rl-spacing", ""], "--rl-spacing must be one of ['even', 'geometric']"),
        (["--pressure", "bon=1,4", "--rl-spacing", "geometric"], "add --pressure rl"),
        (["--pressure", "rl", "--rl-steps", "-1"], "--rl-steps (ppo.total_steps) must be in"),
    ],
)
def test_bad_specs_are_refused_before_work(tmp_path, extra, message):
    result = CliRunner().invoke(app, ["goodhart", "coin", *extra, "--db", str(tmp_path / "db.sqlite")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "error:" in result.output and message in result.output
    assert not (tmp_path / "db.sqlite").exists()


@pytest.mark.parametrize("value", ["nan", "", "2.5"])
def test_rl_checkpoints_must_be_an_integer(tmp_path, value):
    result = CliRunner().invoke(app, ["goodhart", "coin", "--pressure", "rl", "--rl-checkpoints", value, "--db", str(tmp_path / "db.sqlite")],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "--rl-checkpoints" in result.output
    assert not (tmp_path / "db.sqlite").exists()
