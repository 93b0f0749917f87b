"""Training a population apart from diagnosing it: `train_cell` turns a config into parameters,
training curves and checkpoints, and `encode_cell`/`decode_cell` carry them between processes
as safetensors bytes (never pickle), so a worker on another core or another machine returns
exactly what an in-process run would have produced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import jax
import numpy as np
from flax import traverse_util
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

from mesascope.agents.imitation import LEARNERS, make_imitation
from mesascope.agents.ppo import Trainer, make_train
from mesascope.agents.recurrent import make_recurrent_train
from mesascope.agents.shaping import parse_shaping, reward_hook
from mesascope.experiments import level_mix, population
from mesascope.experiments.checkpoints import Checkpoints
from mesascope.experiments.config import ExperimentConfig
from mesascope.worlds import registry

CELL_FORMAT = "mesascope-trained-cell/1"


@dataclass
class TrainedCell:
    """What training a population produced: final parameters (NumPy pytree with a leading agent
    axis), per-update training curves (name -> (agents, updates)), the checkpoints, and the name
    of the shift dial the agents were trained on (the world's, or a level mix's share)."""

    params: Any
    curves: dict[str, np.ndarray]
    checkpoints: Checkpoints
    shift_name: str


def build_trainer(config: ExperimentConfig) -> tuple[Trainer, str]:
    """The trainer of `config`'s agent family on its training world (level mix included): PPO
    (feed-forward, or recurrent with trials of `config.trial_episodes` episodes: RL²), or an
    imitation learner of `config.expert`; and the name of the training shift dial."""
    world = registry.make(config.world, **config.world_options)
    if config.agent in LEARNERS:
        return make_imitation(config.imitation, config.ppo, world, config.expert, config.agent), world.shift_name
    train_world = level_mix.training_world(world, config.level_mix, config.seed, config.adversarial_pool, config.adversarial_bank)
    shaping = parse_shaping(config.shaping, world, config.shaping_coef, config.ppo.gamma)
    hook = None if shaping is None else reward_hook(train_world, shaping)
    if config.agent == "recurrent":
        return make_recurrent_train(config.ppo, train_world, config.reward_weights or None, config.trial_episodes), train_world.shift_name
    trainer = make_train(config.ppo, train_world, config.reward_weights or None, penalised_channel=config.penalised_channel or None, reward_hook=hook)
    return trainer, train_world.shift_name


def train_cell(
    config: ExperimentConfig, on_chunk: Callable[[int, int, dict], None] | None = None, built: tuple[Trainer, str] | None = None
) -> TrainedCell:
    """Train every agent of `config` (one compiled program) and return the cell; `built` is
    `build_trainer(config)`, passed when the caller already built the trainer."""
    trainer, shift_name = build_trainer(config) if built is None else built
    params, curves, checkpoints = population.train_population(trainer, config, on_chunk, checkpoints=config.eval.checkpoints)
    return TrainedCell(jax.device_get(params), curves, checkpoints, shift_name)


def encode_cell(cell: TrainedCell) -> bytes:
    """The cell as one safetensors blob: every array under a path name, the layout in metadata."""
    tensors: dict[str, np.ndarray] = {}
    for i, params in enumerate(cell.checkpoints.params):
        for path, value in traverse_util.flatten_dict(params, sep="/").items():
            tensors[f"checkpoint{i}/{path}"] = np.ascontiguousarray(value)
    for name, values in cell.curves.items():
        tensors[f"curve/{name}"] = np.ascontiguousarray(values)
    layout = {"format": CELL_FORMAT, "steps": [int(s) for s in cell.checkpoints.steps], "shift_name": cell.shift_name,
              "final_is_last_checkpoint": _same_tree(cell.params, cell.checkpoints.params[-1])}
    if not layout["final_is_last_checkpoint"]:
        for path, value in traverse_util.flatten_dict(cell.params, sep="/").items():
            tensors[f"final/{path}"] = np.ascontiguousarray(value)
    return save_tensors(dict(sorted(tensors.items())), metadata={"layout": json.dumps(layout, sort_keys=True)})


def decode_cell(data: bytes) -> TrainedCell:
    """Rebuild a cell from `encode_cell` bytes; ValueError when they are not a trained cell."""
    tensors = load_tensors(data)
    layout = json.loads(_metadata(data).get("layout", "{}"))
    if layout.get("format") != CELL_FORMAT:
        raise ValueError(f"not a trained cell (format {layout.get('format')!r}, expected {CELL_FORMAT!r})")
    steps = np.asarray(layout["steps"], np.int64)
    checkpoints = [_unflatten(tensors, f"checkpoint{i}/") for i in range(len(steps))]
    curves = {name[len("curve/"):]: value for name, value in tensors.items() if name.startswith("curve/")}
    final = checkpoints[-1] if layout["final_is_last_checkpoint"] else _unflatten(tensors, "final/")
    return TrainedCell(final, curves, Checkpoints(steps=steps, params=checkpoints), layout["shift_name"])


def _unflatten(tensors: dict[str, np.ndarray], prefix: str) -> Any:
    flat = {name[len(prefix):]: value for name, value in tensors.items() if name.startswith(prefix)}
    return traverse_util.unflatten_dict(flat, sep="/")


def _same_tree(a: Any, b: Any) -> bool:
    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    return tree_a == tree_b and all(np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b))


def _metadata(data: bytes) -> dict[str, str]:
    """The `__metadata__` of a safetensors blob (its JSON header)."""
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + size]).get("__metadata__", {})
