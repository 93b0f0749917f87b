"""Verdicts along training: goal inference and verdicts of a stored run's agents at every saved
checkpoint, not only the last, to test *subprocess interdependence* (Hubinger et al., §3): the
prediction that agents become competent at a proxy before they become aligned with the intended
objective. Computed on demand from the stored checkpoints; nothing is retrained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from mesascope.experiments import checkpoints as checkpoint_store
from mesascope.experiments.config import ExperimentConfig, from_dict
from mesascope.experiments.evaluate import evaluate_population
from mesascope.experiments.training import build_trainer
from mesascope.records import readings
from mesascope.records.results import ExperimentResult
from mesascope.worlds import registry


@dataclass(frozen=True)
class VerdictTrajectory:
    """Each agent's verdict at each checkpoint on one distribution.

    Attributes:
        steps: (C,) environment steps per agent at each checkpoint.
        distribution: where the verdicts were taken.
        verdicts: (A, C) verdict strings.
        categories: (A, C) verdict categories (`readings.VERDICT_CATEGORIES`).
        best: (A, C) the objective goal inference preferred.
    """

    steps: np.ndarray
    distribution: str
    verdicts: np.ndarray
    categories: np.ndarray
    best: np.ndarray

    def first_step(self, category: str) -> np.ndarray:
        """(A,) the first checkpoint step at which each agent has `category` (NaN: never)."""
        hits = self.categories == category
        first = np.where(hits.any(1), hits.argmax(1), -1)
        return np.where(first >= 0, self.steps[np.maximum(first, 0)].astype(float), np.nan)


def verdict_trajectory(result: ExperimentResult, run_dir: Path, distribution: str | None = None,
                       episodes: int | None = None, on_progress: Callable[[int, int], None] | None = None) -> VerdictTrajectory:
    """Evaluate and diagnose the run's agents at every checkpoint saved in `run_dir` on
    `distribution` (default: the run's test distribution), with `episodes` per agent (default:
    the run's own evaluation setting). The final checkpoint reproduces the run's own verdicts."""
    config: ExperimentConfig = from_dict(result.config)
    distribution = distribution or readings.test_distribution(result)
    world = registry.make(config.world, **config.world_options)
    if distribution not in world.distributions:
        raise ValueError(f"distribution must be one of {sorted(world.distributions)}, got {distribution!r}")
    evaluation = dataclasses.replace(config.eval, distributions=(distribution,), gifs=0, episodes=episodes or config.eval.episodes)
    config = dataclasses.replace(config, eval=evaluation)
    trainer, _ = build_trainer(config)  # the network of the run's agent family (nothing is trained)
    network = trainer.network
    saved = checkpoint_store.load(run_dir, trainer.config.num_updates * trainer.config.batch_size)
    shifts = readings.agent_shifts(result)
    agents = [record.agent for record in result.agents]
    verdicts, best = [], []
    for c, params in enumerate(saved.params):
        rows = {row.agent: row for row in evaluate_population(world, network, params, config, shifts, shift_name=result.shift_name).verdicts}
        verdicts.append([rows[a].verdict for a in agents])
        best.append([str(rows[a].evidence.get("best_objective", rows[a].evidence.get("best", ""))) for a in agents])
        if on_progress:
            on_progress(c + 1, len(saved.params))
    verdicts_array = np.asarray(verdicts, object).T
    categories = np.vectorize(readings.verdict_category, otypes=[object])(verdicts_array)
    return VerdictTrajectory(np.asarray(saved.steps), distribution, verdicts_array, categories, np.asarray(best, object).T)
