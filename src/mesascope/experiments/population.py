"""Train a population of agents at once: one compiled PPO program, vmapped over agents and,
when the host exposes several CPU devices, split over them along the agent axis."""

from __future__ import annotations

import itertools
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from mesascope.agents.ppo import Hyper, Trainer
from mesascope.experiments.checkpoints import Checkpoints, schedule
from mesascope.experiments.config import ExperimentConfig
from mesascope.experiments.knobs import TRACED_KNOBS

HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def request_host_devices(count: int | None = None) -> None:
    """Ask XLA to expose `count` CPU devices (default: the number of cores, at most 8).

    Must run before JAX initialises its backend; it does nothing if XLA_FLAGS already sets
    the device count. Splitting a population over two host devices uses the second core,
    which vmap alone does not (docs/design.md §5)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if HOST_DEVICE_FLAG in flags:
        return
    count = count or min(8, os.cpu_count() or 1)
    os.environ["XLA_FLAGS"] = f"{flags} {HOST_DEVICE_FLAG}={count}".strip()


def grid_cells(config: ExperimentConfig) -> list[dict[str, float]]:
    """The population's cells in agent order: every combination of a training shift and one value
    of each knob_grid axis (axes in sorted key order, the shift outermost), as key -> value."""
    axes = [("train_shift", config.train_shifts)] + sorted(config.knob_grid.items())
    return [dict(zip([name for name, _ in axes], combo)) for combo in itertools.product(*(values for _, values in axes))]


def agent_knobs(config: ExperimentConfig) -> dict[str, np.ndarray]:
    """Every traced knob's value per agent (key -> (agents,)): cells in blocks of `seeds` agents;
    a knob outside knob_grid takes its scalar config value. Values are the config's (float64;
    training sees them as float32), the shift as float32 as it always was."""
    cells = grid_cells(config)
    knobs = {"train_shift": np.repeat([cell["train_shift"] for cell in cells], config.seeds).astype(np.float32)}
    for key in TRACED_KNOBS:
        scalar = getattr(config.ppo, key[4:]) if key.startswith("ppo.") else getattr(config, key)
        knobs[key] = np.repeat(np.asarray([cell.get(key, scalar) for cell in cells], np.float64), config.seeds)
    return knobs


def agent_layout(config: ExperimentConfig) -> tuple[np.ndarray, np.ndarray]:
    """(seed index, training shift) of every agent: cells (`grid_cells`) in blocks of `seeds` agents."""
    seeds = np.tile(np.arange(config.seeds), len(grid_cells(config)))
    return seeds, agent_knobs(config)["train_shift"]


def population_hyper(config: ExperimentConfig) -> Hyper:
    """Per-agent numeric knobs, batched along the agent axis. Knobs that are at their static
    default for every agent stay None, so the default program is the one without them."""
    knobs = agent_knobs(config)
    optional = {}
    for key, name in TRACED_KNOBS.items():
        if name in ("l2", "l1"):
            continue
        varies = key in config.knob_grid or (key in ("time_penalty", "channel_penalty") and getattr(config, key) > 0)
        if varies:
            optional[name] = jnp.asarray(knobs[key], jnp.float32)
    return Hyper(shift=jnp.asarray(knobs["train_shift"]), l2=jnp.asarray(knobs["l2"], jnp.float32), l1=jnp.asarray(knobs["l1"], jnp.float32), **optional)


def population_keys(config: ExperimentConfig) -> jax.Array:
    """One independent key per agent. Agents with the same seed index but different shift
    values share their key (common random numbers make shift comparisons sharper)."""
    seeds, _ = agent_layout(config)
    base = jax.random.PRNGKey(config.seed)
    return jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.asarray(seeds))


def device_mesh(num_agents: int, requested: int = 0) -> Mesh | None:
    """A 1-D mesh over the CPU devices that evenly split the agents (None for one device)."""
    available = jax.devices()
    count = requested or len(available)
    count = min(count, len(available))
    while count > 1 and num_agents % count:
        count -= 1
    return Mesh(np.array(available[:count]), ("agents",)) if count > 1 else None


def split_over_devices(batched: Callable, mesh: Mesh | None) -> Callable:
    """Jit a function batched over agents; with a mesh, each device runs it on its own slice
    of the agent axis (shard_map), which is what puts the second core to work."""
    if mesh is None:
        return jax.jit(batched)
    spec = PartitionSpec("agents")
    return jax.jit(jax.shard_map(batched, mesh=mesh, in_specs=spec, out_specs=spec))


def train_population(
    trainer: Trainer,
    config: ExperimentConfig,
    on_chunk: Callable[[int, int, dict], None] | None = None,
    chunks: int = 20,
    checkpoints: int = 1,
    hyper: Hyper | None = None,
    spacing: str = "even",
) -> tuple[Any, dict[str, np.ndarray], Checkpoints]:
    """Train every agent of the population; return (stacked params, metrics (A, U) per name,
    the params at `checkpoints` points evenly spread over training, the last the final ones).

    Training runs in `chunks` jitted pieces so `on_chunk(done_updates, total_updates,
    last_metrics)` can report progress between them; checkpoints are taken between pieces.
    `hyper` replaces `population_hyper(config)` (e.g. to give each agent its reward hook's params);
    `spacing` "geometric" spreads the checkpoints geometrically instead (dense early)."""
    hyper = population_hyper(config) if hyper is None else hyper
    keys = population_keys(config)
    mesh = device_mesh(config.num_agents, config.devices)

    total = trainer.config.num_updates
    per_chunk = max(1, -(-total // chunks))
    marks = schedule(spacing, total, checkpoints, per_chunk)
    runner = split_over_devices(jax.vmap(trainer.init), mesh)(keys, hyper)
    compiled: dict[int, Callable] = {}
    history: list[dict] = []
    saved: list[Any] = []
    done = 0
    while done < total:
        size = min(per_chunk, total - done, min(m for m in marks if m > done) - done)
        if size not in compiled:
            compiled[size] = split_over_devices(jax.vmap(lambda r, h, n=size: trainer.run(r, h, n)), mesh)
        runner, metrics = compiled[size](runner, hyper)
        metrics = jax.device_get(metrics)
        history.append(metrics)
        done += size
        if done in marks:
            saved.append(jax.device_get(runner.params))
        if on_chunk is not None:
            on_chunk(done, total, metrics)
    curves = {name: np.concatenate([m[name] for m in history], axis=1) for name in history[0]}
    steps = np.asarray(marks, np.int64) * trainer.config.batch_size
    return saved[-1], curves, Checkpoints(steps=steps, params=saved)
