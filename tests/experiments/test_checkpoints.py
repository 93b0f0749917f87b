"""Checkpoints: where they fall in training, what train_population returns, and their files."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from mesascope.agents.ppo import make_train
from mesascope.experiments import checkpoints as ckpt
from mesascope.experiments import config as C
from mesascope.experiments.config import ExperimentConfig
from mesascope.experiments.population import train_population
from mesascope.store import artifacts
from mesascope.worlds import registry

TINY = ["world_options.size=7", "world_options.layout=open", "train_shifts=0", "seeds=2", "ppo.total_steps=1024",
        "ppo.num_envs=8", "ppo.num_steps=32", "ppo.minibatches=2"]


@pytest.mark.parametrize(
    "total, count, per_chunk, expected",
    [
        (120, 4, 6, [30, 60, 90, 120]),  # already on chunk boundaries
        (100, 4, 5, [25, 50, 75, 100]),
        (100, 3, 5, [35, 65, 100]),  # 33 and 67 moved onto multiples of 5
        (10, 4, 3, [3, 6, 9, 10]),  # 2, 5, 8 moved onto multiples of 3
        (4, 3, 1, [1, 3, 4]),
        (2, 4, 1, [1, 2]),  # at most one per update
        (7, 1, 3, [7]),  # only the final one
        (3, 3, 2, [1, 2, 3]),  # aligning would repeat an update: exact positions instead
    ],
)
def test_checkpoint_updates(total, count, per_chunk, expected):
    assert ckpt.checkpoint_updates(total, count, per_chunk) == expected


@pytest.mark.parametrize(
    "total, count, expected",
    [
        (97, 10, [1, 2, 3, 5, 8, 13, 21, 35, 58, 97]),  # ratio 97^(1/9): dense early
        (48, 10, [1, 2, 3, 4, 6, 9, 13, 20, 31, 48]),  # early steps below one update: consecutive
        (5, 5, [1, 2, 3, 4, 5]),
        (3, 10, [1, 2, 3]),  # at most one per update
        (10, 1, [10]),  # only the final one
    ],
)
def test_geometric_updates(total, count, expected):
    marks = ckpt.geometric_updates(total, count)
    assert marks == expected and ckpt.schedule("geometric", total, count, 4) == expected


def test_schedule_rejects_an_unknown_spacing():
    with pytest.raises(ValueError, match="spacing must be one of"):
        ckpt.schedule("log", 10, 3, 1)
    with pytest.raises(ValueError, match="must be >= 1"):
        ckpt.geometric_updates(10, 0)


def test_checkpoint_updates_rejects_nonsense():
    with pytest.raises(ValueError, match="count"):
        ckpt.checkpoint_updates(10, 0, 1)


@pytest.fixture(scope="module")
def trained():
    config = C.apply_overrides(ExperimentConfig(name="ckpt"), TINY)
    world = registry.make(config.world, **config.world_options)
    trainer = make_train(config.ppo, world)
    return config, train_population(trainer, config, checkpoints=3)


def test_train_population_returns_checkpoints(trained):
    config, (params, curves, checkpoints) = trained
    assert config.ppo.num_updates == 4 and config.ppo.batch_size == 256
    np.testing.assert_array_equal(checkpoints.steps, [256, 768, 1024])
    assert len(checkpoints.params) == 3
    for a, b in zip(jax.tree.leaves(checkpoints.params[-1]), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)  # the last checkpoint is the final params
        assert a.shape[0] == config.num_agents
    first, last = jax.tree.leaves(checkpoints.params[0]), jax.tree.leaves(checkpoints.params[-1])
    assert any(not np.array_equal(x, y) for x, y in zip(first, last))
    assert curves["return/coin"].shape == (2, 4)  # chunking around checkpoints keeps every update


def test_save_and_load_round_trip(tmp_path, trained):
    _, (params, _, checkpoints) = trained
    written = ckpt.save(tmp_path, checkpoints, {"run_id": "x"})
    index = json.loads((tmp_path / "checkpoints.json").read_text())
    # the final checkpoint is stored once, as the run's params (no byte-for-byte duplicate)
    assert index["stems"] == ["params_step256", "params_step768", "params"]
    assert not (tmp_path / "params_step1024.safetensors").exists()
    assert {p.name for p in written} == {f"{stem}.{ext}" for stem in index["stems"] for ext in ("safetensors", "json")} | {"checkpoints.json"}
    assert (tmp_path / "params_step768.safetensors").exists()
    _, manifest = artifacts.load_params(tmp_path / "params_step768")
    assert manifest == {"run_id": "x", "step": 768, "checkpoint": 1}
    loaded = ckpt.load(tmp_path, final_step=1024)
    np.testing.assert_array_equal(loaded.steps, checkpoints.steps)
    for saved, back in zip(checkpoints.params, loaded.params):
        for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(back)):
            np.testing.assert_array_equal(a, b)


def test_a_run_saved_before_checkpoints_loads_its_final_params(tmp_path, trained):
    _, (params, _, _) = trained
    artifacts.save_params(tmp_path / "params", params, {})
    loaded = ckpt.load(tmp_path, final_step=1024)
    np.testing.assert_array_equal(loaded.steps, [1024])
    assert len(loaded.params) == 1
    with pytest.raises(FileNotFoundError):
        ckpt.load(tmp_path / "missing", final_step=1)


@pytest.mark.parametrize("setting, message", [("eval.checkpoints=0", r"eval.checkpoints must be in \[1, 1000\]"),
                                              ("eval.influence_levels=-1", r"eval.influence_levels must be in \[0, 65536\]")])
def test_config_rejects_bad_checkpoint_settings(setting, message):
    with pytest.raises(C.ConfigError, match=message):
        C.apply_overrides(ExperimentConfig(), [setting])
