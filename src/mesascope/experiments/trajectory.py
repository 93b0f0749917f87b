"""Verdicts along training: goal inference and verdicts of a population's agents at every saved
checkpoint, not only the last, to test *subprocess interdependence* (Hubinger et al., §3): the
prediction that agents become competent at a proxy before they become aligned with the intended
objective. The runner computes it while a run is made (`eval.trajectory`); `mesascope trajectory`
reads it from the store or computes it from the stored checkpoints. Nothing is retrained.

A checkpoint is diagnosed exactly as the final parameters are: evaluation levels and the
bootstrap generator depend on the position of a distribution in `eval.distributions` (and on the
ones before it), so the checkpoints are evaluated on the run's distributions up to the one asked
for, and the last checkpoint's verdicts are the run's own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mesascope.experiments import checkpoints as checkpoint_store
from mesascope.experiments.checkpoints import Checkpoints
from mesascope.experiments.config import ExperimentConfig, from_dict
from mesascope.experiments.evaluate import evaluate_population
from mesascope.experiments.training import build_trainer
from mesascope.records import readings
from mesascope.records.results import ExperimentResult, VerdictRow
from mesascope.records.trajectory import TrajectoryRecord
from mesascope.worlds import registry
from mesascope.worlds.core import World


def default_distribution(distributions: Sequence[str]) -> str:
    """The distribution verdicts along training are about: 'test' if evaluated, else the last
    (as `readings.test_distribution` reads a stored result)."""
    return "test" if "test" in distributions else distributions[-1]


def checkpoint_trajectory(
    world: World,
    network: Any,
    checkpoints: Checkpoints,
    config: ExperimentConfig,
    shifts: np.ndarray,
    shift_name: str | None,
    distribution: str,
    final: list[VerdictRow] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> TrajectoryRecord:
    """Each agent's verdict at every checkpoint on `distribution`, with `config`'s evaluation
    settings (no GIFs). `final`: the verdict rows the same settings gave the last checkpoint
    (the run's own evaluation), reused instead of evaluating it again."""
    names = config.eval.distributions
    evaluated = names[: names.index(distribution) + 1] if distribution in names else (distribution,)
    config = dataclasses.replace(config, eval=dataclasses.replace(config.eval, distributions=evaluated, gifs=0))
    agents = list(range(len(shifts)))
    verdicts, best = [], []
    for c, params in enumerate(checkpoints.params):
        last = final is not None and c == len(checkpoints.params) - 1
        by_agent = {row.agent: row for row in (final or []) if row.distribution == distribution} if last else {}
        if any(a not in by_agent for a in agents):
            rows = evaluate_population(world, network, params, config, shifts, shift_name=shift_name).verdicts
            by_agent = {row.agent: row for row in rows if row.distribution == distribution}
        verdicts.append([by_agent[a].verdict for a in agents])
        best.append([str(by_agent[a].evidence.get("best_objective", by_agent[a].evidence.get("best", ""))) for a in agents])
        if on_progress:
            on_progress(c + 1, len(checkpoints.params))
    verdict_array = np.asarray(verdicts, object).T.reshape(len(agents), len(checkpoints.params))
    categories = np.vectorize(readings.verdict_category, otypes=[object])(verdict_array) if verdict_array.size else verdict_array
    return TrajectoryRecord(distribution, tuple(agents), np.asarray(checkpoints.steps), verdict_array, categories,
                            np.asarray(best, object).T.reshape(verdict_array.shape))


def verdict_trajectory(result: ExperimentResult, run_dir: Path, distribution: str | None = None,
                       episodes: int | None = None, on_progress: Callable[[int, int], None] | None = None) -> TrajectoryRecord:
    """Evaluate and diagnose the run's agents at every checkpoint saved in `run_dir` on
    `distribution` (default: the run's test distribution), with `episodes` per agent (default:
    the run's own evaluation setting, and then the run's own verdicts for the last checkpoint).
    Agent ids are those of `result.agents`."""
    config: ExperimentConfig = from_dict(result.config)
    distribution = distribution or readings.test_distribution(result)
    world = registry.make(config.world, **config.world_options)
    if distribution not in world.distributions:
        raise ValueError(f"distribution must be one of {sorted(world.distributions)}, got {distribution!r}")
    own = episodes in (None, config.eval.episodes)
    config = dataclasses.replace(config, eval=dataclasses.replace(config.eval, episodes=episodes or config.eval.episodes))
    trainer, _ = build_trainer(config)  # the network of the run's agent family (nothing is trained)
    saved = checkpoint_store.load(run_dir, trainer.config.num_updates * trainer.config.batch_size)
    ids = [record.agent for record in result.agents]
    final = [dataclasses.replace(row, agent=ids.index(row.agent)) for row in result.verdicts if row.agent in ids] if own else None
    found = checkpoint_trajectory(world, trainer.network, saved, config, readings.agent_shifts(result), result.shift_name,
                                  distribution, final if own and distribution in config.eval.distributions else None, on_progress)
    return dataclasses.replace(found, agents=tuple(ids))
