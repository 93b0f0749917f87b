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


def predicate_rates(world: World, config: ExperimentConfig, normalised: dict[str, np.ndarray], name: str, threshold: float,
                    agent_share: float, shifts: np.ndarray | None = None) -> dict[tuple[str, str, float], predicates.PredicateRates]:
    """C on every evaluated distribution, level group and training shift of the agents
    (`shifts`, (A,); one group of all agents when None): (distribution, group, shift) -> rates.
    Agents trained at different shifts are different populations, so their shares are apart."""
    predicate = predicates.get(name)
    rng = np.random.default_rng(config.seed)
    agents = next(iter(normalised.values())).shape[0] if normalised else 0
    shifts = np.full(agents, np.nan) if shifts is None else np.asarray(shifts, float)
    out = {}
    for distribution, episodes in normalised.items():
        for group, mask in level_groups(world, config, distribution).items():
            for shift in np.unique(shifts) if not np.isnan(shifts).all() else [np.nan]:
                members = np.isnan(shifts) if np.isnan(shift) else shifts == shift
                if mask.any() and members.any():
                    out[(distribution, group, float(shift))] = predicates.evaluate(
                        predicate, episodes[members][:, mask], threshold, agent_share, rng, config.eval.bootstrap)
    return out


def held_out(world: World, distribution: str, shift: float) -> bool:
    """Whether `distribution`'s levels are held out from agents trained at `shift`: its dial
    differs from theirs (levels drawn at the training shift are the training distribution)."""
    return not np.isclose(world.distributions[distribution].shift, shift)
