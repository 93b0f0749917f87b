"""Meta-learning analyses of a trained population: trials on the evaluated levels (return by
episode index against an oracle that knows the goal) and the predicate C(π, x) on held-out
levels, per component task when the world is a union."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.diagnose import in_context, predicates, returns
from mesascope.experiments.config import ExperimentConfig
from mesascope.experiments.evaluate import evaluation_levels, trial_rollouts
from mesascope.worlds.core import World

TRIAL_SALT = 0x7A1
"""Folded into the evaluation rollout key for trial rollouts, so they never reuse its draws."""


@dataclass(frozen=True)
class TrialStudy:
    """Trials of every agent on one distribution's evaluated levels: intended returns
    (A, E, N), the oracle's (exact optimal intended return per level, (N,)), the curve."""

    distribution: str
    returns: np.ndarray
    oracle: np.ndarray
    curve: in_context.InTrialCurve


def trial_study(world: World, network: Any, params: Any, config: ExperimentConfig, distribution: str, episodes: int) -> TrialStudy:
    """Roll every agent through trials of `episodes` episodes on the evaluated levels of
    `distribution` and compare each episode index with the oracle planner."""
    if episodes < 1:
        raise ValueError(f"trial episodes must be at least 1, got {episodes}")
    levels, key = evaluation_levels(world, config, distribution)
    weights = jnp.asarray(config.reward_weights or np.eye(world.num_objectives)[0], jnp.float32)
    run = jax.jit(lambda p, l, k: trial_rollouts(world, network, p, l, k, episodes, config.eval.greedy, weights).objective_returns)
    played = np.asarray(run(params, levels, jax.random.fold_in(key, TRIAL_SALT)))[..., 0]  # (A, E, N)
    optimal, _ = returns.level_baselines(world, levels)
    curve = in_context.in_trial_curve(played, optimal[:, 0], np.random.default_rng(config.seed), config.eval.bootstrap)
    return TrialStudy(distribution, played, optimal[:, 0], curve)


def level_groups(world: World, config: ExperimentConfig, distribution: str) -> dict[str, np.ndarray]:
    """Masks (N,) over the evaluated levels of `distribution`: 'all', and for a union one per
    component task (`task:<name>`)."""
    levels, _ = evaluation_levels(world, config, distribution)
    groups = {"all": np.ones(config.eval.episodes, bool)}
    for c, name in enumerate(getattr(world, "component_names", ())):
        groups[f"task:{name}"] = np.asarray(levels.task) == c
    return groups


def predicate_rates(world: World, config: ExperimentConfig, normalised: dict[str, np.ndarray], name: str, threshold: float, agent_share: float) -> dict[tuple[str, str], predicates.PredicateRates]:
    """C on every evaluated distribution and level group: (distribution, group) -> rates."""
    predicate = predicates.get(name)
    rng = np.random.default_rng(config.seed)
    out = {}
    for distribution, episodes in normalised.items():
        for group, mask in level_groups(world, config, distribution).items():
            if mask.any():
                out[(distribution, group)] = predicates.evaluate(predicate, episodes[:, mask], threshold, agent_share, rng, config.eval.bootstrap)
    return out
