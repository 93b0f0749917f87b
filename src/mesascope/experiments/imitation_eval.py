"""Diagnose a clone population against its expert: agreement, what each clone plans for, verdicts.

For every clone (and, as a check of the inference, for the expert itself):

1. **Agreement** on held-out training levels (drawn with a salt no training key uses, at the
   clone's own training shift) and on test levels: the expert plays; at each state it visits, the
   clone's greedy action counts as agreeing when the expert may take it (one of its tied best
   actions). Bootstrap intervals over episodes (a ratio of summed agreeing to summed steps).
2. **What it plans for**: the clone plays the test levels (greedy or sampled as `eval.greedy`),
   and `diagnose.planner_goals.infer_planner` fits every bounded-planner hypothesis (every
   objective × the configured horizons, the expert's and the whole episode × the expert's
   discount × no cap, the expert's cap and the configured caps) to its actions.
3. **Verdict**: "capability failure" when held-out training agreement is below
   `imitation.min_agreement`; else `planner_goals.bound_verdict` against the expert's bound,
   read on the hypotheses of the expert's objective ("pursues another objective" when none of
   them explains the clone's test actions).

The world check: the share of expert-visited states where the bounded expert and the unbounded
planner of its objective (whole-episode horizon, no cap) allow the same actions, on training and
on test levels (a world shows the bound when it is ~1 on training and clearly below 1 on test).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.agents.experts import TIE_TOLERANCE, ExpertSpec, expert_cap, expert_horizon, expert_objective, expert_policy, expert_q
from mesascope.agents.imitation import expert_act, play
from mesascope.diagnose import planner_goals, rollout
from mesascope.experiments.config import ExperimentConfig
from mesascope.experiments.evaluate import agent_policy, goal_inference_config
from mesascope.records.imitation import ImitationRecord
from mesascope.worlds.core import World

IMITATION_SALT = 0x1317
"""Folded into the experiment seed for the held-out levels of the imitation diagnosis."""


def hypotheses_for(world: World, config: ExperimentConfig) -> planner_goals.Hypotheses:
    """The hypothesis grid of `config` (see module docstring)."""
    spec = config.expert
    horizons = set(config.imitation.hypothesis_horizons) | {expert_horizon(world, spec), world.max_steps}
    caps = set(config.imitation.hypothesis_caps) | {expert_cap(spec), float("inf")}
    horizons = {h for h in horizons if h <= world.max_steps}
    return planner_goals.Hypotheses(tuple(range(world.num_objectives)), tuple(sorted(horizons)), (spec.gamma,), tuple(sorted(caps)))


@lru_cache(maxsize=16)
def _expert_player(world: World, spec: ExpertSpec):
    """Jitted (levels, key) -> `Played` episodes of the expert (one compilation per expert)."""
    return jax.jit(lambda levels, key: play(world, spec, expert_act(world, spec), levels, key))


def _expert_play(world: World, spec: ExpertSpec, levels: Any, key: jax.Array):
    return _expert_player(world, spec)(levels, key)


@lru_cache(maxsize=16)
def _agreement_function(network: Any):
    def one(p, obs, targets, valid):
        logits = network.apply(p, obs.reshape((-1,) + obs.shape[2:]))[0]
        chosen = jnp.argmax(logits, -1).reshape(valid.shape)
        return (jnp.take_along_axis(targets, chosen[..., None], -1)[..., 0] > 0) & valid

    return jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))


def _agreement(network: Any, params: Any, played: Any) -> tuple[np.ndarray, np.ndarray]:
    """(A, N) agreeing steps of every clone and (N,) expert steps, on the expert's `played` episodes."""
    agree = _agreement_function(network)(params, played.obs, played.targets, played.valid)
    return np.asarray(agree.sum(-1), float), np.asarray(played.valid.sum(-1), float)


def _ratio_interval(hits: np.ndarray, steps: np.ndarray, rng: np.random.Generator, resamples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share hits/steps per row (R, N) with 95% percentile bootstrap intervals over episodes."""
    count = steps.shape[0]
    weights = np.stack([np.bincount(rng.integers(0, count, count), minlength=count) for _ in range(resamples)], 1)  # (N, B)
    boot = (hits @ weights) / np.maximum(steps @ weights, 1)[None]
    return hits.sum(-1) / max(steps.sum(), 1), np.percentile(boot, 2.5, axis=1), np.percentile(boot, 97.5, axis=1)


def planners_agree(world: World, spec: ExpertSpec, levels: Any, played: Any) -> float:
    """Share of the expert's visited states (`played` on `levels`) where the bounded expert and
    the unbounded planner of its objective (whole episode, no cap) allow the same actions."""
    same = _same_sets(world, spec)(levels, played.state_index) & played.valid
    return float(np.asarray(same).sum() / max(int(np.asarray(played.valid).sum()), 1))


@lru_cache(maxsize=16)
def _same_sets(world: World, spec: ExpertSpec):
    """Jitted (levels, state indices (N, T)) -> (N, T): bounded and unbounded allowed sets equal."""
    unbounded = dataclasses.replace(spec, horizon=0, utility_cap=0.0)

    def allowed(planner, level, index):
        q = expert_q(world, level, planner)[index]  # (T, A)
        return q >= q.max(-1, keepdims=True) - TIE_TOLERANCE

    return jax.jit(jax.vmap(lambda level, index: jnp.all(allowed(spec, level, index) == allowed(unbounded, level, index), -1)))


def evaluate_imitation(world: World, network: Any, params: Any, config: ExperimentConfig, shifts: np.ndarray) -> ImitationRecord:
    """The imitation diagnosis of every clone in `params` (leading agent axis) trained at `shifts`."""
    spec = config.expert
    count = len(shifts)
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), IMITATION_SALT)
    rng = np.random.default_rng(config.seed)
    episodes = config.eval.episodes
    resamples = config.eval.bootstrap
    horizon, cap = float(expert_horizon(world, spec)), float(expert_cap(spec))

    # 1. agreement on held-out training levels, each clone at its own training shift
    hits = np.zeros((count, episodes))
    steps = np.zeros((count, episodes))
    agree_train = 1.0
    for s, value in enumerate(np.unique(shifts)):
        members = np.flatnonzero(shifts == value)
        level_key, play_key = jax.random.split(jax.random.fold_in(key, s))
        levels = world.sample_levels(level_key, float(value), episodes)
        played = _expert_play(world, spec, levels, play_key)
        agree, expert_steps = _agreement(network, jax.tree.map(lambda x: x[members], params), played)
        hits[members], steps[members] = agree, expert_steps[None]
        agree_train = min(agree_train, planners_agree(world, spec, levels, played))
    train_rate = [_ratio_interval(hits[a:a + 1], steps[a], rng, resamples) for a in range(count)]

    # 2. test levels: agreement, and what every clone (and the expert) plans for
    level_key, play_key, roll_key = jax.random.split(jax.random.fold_in(key, 1_000), 3)
    levels = world.sample_levels(level_key, world.distributions["test"].shift, episodes)
    played = _expert_play(world, spec, levels, play_key)
    test_hits, test_steps = _agreement(network, params, played)
    test_rate = [_ratio_interval(test_hits[a:a + 1], test_steps, rng, resamples) for a in range(count)]
    expert_row = (np.ones(1), np.ones(1), np.ones(1))
    agree_test = planners_agree(world, spec, levels, played)
    clones = jax.jit(jax.vmap(lambda p: rollout.rollout(world, agent_policy(network, p, config.eval.greedy), levels, roll_key)))(params)
    # the expert's own test episodes (for the check of the inference) are those it played above;
    # `terminated` is approximate (an episode ending on the last step reads as truncated) and unused
    expert_episodes = rollout.Episodes(objective_returns=played.returns, length=played.valid.sum(-1), terminated=played.valid.sum(-1) < world.max_steps,
                                       state_index=played.state_index, actions=played.actions, valid=played.valid)
    hypotheses = hypotheses_for(world, config)
    goal_config = dataclasses.replace(goal_inference_config(config), gamma=min(spec.gamma, 0.999))
    tables = planner_goals.hypothesis_tables(world, levels, hypotheses, goal_config)
    evidence = config.thresholds.min_log_bayes_factor
    focus = world.objectives.index(expert_objective(world, spec))
    fits = [planner_goals.infer_planner(world, levels, jax.tree.map(lambda x: x[a], clones), hypotheses, goal_config, evidence, (horizon, cap), tables, focus)
            for a in range(count)]
    fits.append(planner_goals.infer_planner(world, levels, expert_episodes, hypotheses, goal_config, evidence, (horizon, cap), tables, focus))

    verdicts = tuple(
        "capability failure" if train_rate[a][0][0] < config.imitation.min_agreement else planner_goals.bound_verdict(fits[a], horizon, cap)
        for a in range(count)
    )
    rates = train_rate + [expert_row]
    tests = test_rate + [expert_row]
    returns = np.vstack([np.asarray(clones.objective_returns).mean(1), np.asarray(expert_episodes.objective_returns).mean(0)[None]])
    rows = {
        "agreement_train": [r[0][0] for r in rates], "agreement_train_low": [r[1][0] for r in rates], "agreement_train_high": [r[2][0] for r in rates],
        "agreement_test": [r[0][0] for r in tests], "agreement_test_low": [r[1][0] for r in tests], "agreement_test_high": [r[2][0] for r in tests],
        "horizon": [f.horizon for f in fits], "horizon_low": [f.horizon_interval[0] for f in fits], "horizon_high": [f.horizon_interval[1] for f in fits],
        "cap": [f.cap for f in fits], "cap_low": [f.cap_interval[0] for f in fits], "cap_high": [f.cap_interval[1] for f in fits],
        "plausible_horizon_min": [f.plausible_range(1)[0] for f in fits], "plausible_horizon_max": [f.plausible_range(1)[1] for f in fits],
        "plausible_cap_min": [f.plausible_range(3)[0] for f in fits], "plausible_cap_max": [f.plausible_range(3)[1] for f in fits],
        "horizon_identified": [f.horizon_identified for f in fits], "cap_identified": [f.cap_identified for f in fits],
        "beyond_support": [f.beyond_support for f in fits], "steps": [f.steps for f in fits],
        "test_returns": returns, "loglik": np.stack([f.loglik for f in fits]),
        "best_objective": [f.hypotheses[f.best, 0] for f in fits],
    }
    expert = {"objective": expert_objective(world, spec), "horizon": horizon, "cap": cap, "gamma": spec.gamma, "temperature": spec.temperature,
              "min_agreement": config.imitation.min_agreement, "evidence": evidence, "planners_agree_train": agree_train, "planners_agree_test": agree_test}
    return ImitationRecord({k: np.asarray(v, np.float64) for k, v in rows.items()}, hypotheses.table(), verdicts, expert, config.agent)


def side_by_side_gifs(world: World, network: Any, params: Any, config: ExperimentConfig, shifts: np.ndarray) -> dict[str, np.ndarray]:
    """The expert (left), the first clone of each training shift (middle) and the unbounded
    planner of the expert's objective (right) on the same separating test levels: the first
    `eval.gifs` of 64 candidate test levels where the bounded expert and the unbounded planner
    act differently from the start."""
    spec = config.expert
    key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(config.seed), IMITATION_SALT), 2_000)
    level_key, play_key, frame_key = jax.random.split(key, 3)
    candidates = world.sample_levels(level_key, world.distributions["test"].shift, 64)
    played = _expert_play(world, spec, candidates, play_key)
    same = np.asarray(_same_sets(world, spec)(candidates, played.state_index))[:, 0]
    chosen = np.flatnonzero(~same)[: config.eval.gifs]
    unbounded = dataclasses.replace(spec, horizon=0, utility_cap=0.0)
    expert_frames = jax.jit(lambda level, k: rollout.episode_frames(world, expert_policy(world, spec), level, k))
    unbounded_frames = jax.jit(lambda level, k: rollout.episode_frames(world, expert_policy(world, unbounded), level, k))
    clone_frames = jax.jit(lambda p, level, k: rollout.episode_frames(world, agent_policy(network, p, config.eval.greedy), level, k))
    gifs = {}
    for shift in sorted(set(float(s) for s in shifts)):
        agent = int(np.flatnonzero(np.isclose(shifts, shift))[0])
        agent_params = jax.tree.map(lambda x: x[agent], params)
        for i in chosen:
            level = jax.tree.map(lambda x: x[i], candidates)
            left = np.asarray(expert_frames(level, frame_key))
            middle = np.asarray(clone_frames(agent_params, level, frame_key))
            right = np.asarray(unbounded_frames(level, frame_key))
            gap = np.full((left.shape[0], left.shape[1], 2, 3), 255, np.uint8)
            caption = f"expert (left), clone {agent} (middle), unbounded planner (right), separating test level {int(i) + 1}"
            gifs[caption] = _trim(np.concatenate([left, gap, middle, gap, right], axis=2))
    return gifs


def _trim(frames: np.ndarray) -> np.ndarray:
    """Drop the frozen frames after both episodes ended, keeping two to show the end."""
    same = np.all(frames[1:] == frames[:-1], axis=(1, 2, 3))
    last = int(np.flatnonzero(~same)[-1]) + 2 if (~same).any() else 1
    return frames[: min(len(frames), last + 2)]
