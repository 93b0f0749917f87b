"""Evaluate a trained population: rollouts on every distribution, returns under every objective,
goal inference and verdicts. Every agent is evaluated on the same levels (common random
numbers), drawn from a key derived from the experiment seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.agents.ppo import policy_logits
from mesascope.diagnose import goals, identify, influence, returns, rollout, verdict
from mesascope.experiments.checkpoints import Checkpoints
from mesascope.experiments.config import ExperimentConfig
from mesascope.records.results import EvaluationRow, IdentifiabilityRecord, InferenceRow, InfluenceRecord, VerdictRow
from mesascope.records.trials import TrialRecord
from mesascope.worlds.core import World

EVAL_SALT = 0x5EED
"""Folded into the experiment seed for evaluation keys, so they never reuse a training key."""
INFLUENCE_SALT = 0x1F1E
"""Folded into the experiment seed for the decision-influence levels and relocations."""


@dataclass
class Evaluation:
    """Everything evaluation produced for a population, ready for `ExperimentResult`."""

    evaluations: list[EvaluationRow] = field(default_factory=list)
    inferences: list[InferenceRow] = field(default_factory=list)
    verdicts: list[VerdictRow] = field(default_factory=list)
    episode_returns: dict[str, np.ndarray] = field(default_factory=dict)
    episode_normalised: dict[str, np.ndarray] = field(default_factory=dict)
    gifs: dict[str, np.ndarray] = field(default_factory=dict)
    trials: TrialRecord | None = None


@dataclass(frozen=True)
class AgentDiagnosis:
    """Returns, goal inference and verdict of one agent on one distribution, as plain rows."""

    evaluations: list[EvaluationRow]
    inferences: list[InferenceRow]
    verdict: VerdictRow


def diagnose_agent(
    world: World,
    levels: Any,
    episodes: rollout.Episodes,
    optimal: np.ndarray,
    random: np.ndarray,
    goal_config: goals.GoalInferenceConfig,
    thresholds: verdict.VerdictThresholds,
    rng: np.random.Generator,
    agent: int,
    distribution: str,
    tables: goals.PlannerTables | None = None,
) -> AgentDiagnosis:
    """Diagnose one agent from its episodes on `levels` (episode n on level n), whatever the
    policy that played them: returns per objective with intervals, goal inference, verdict.
    `optimal` and `random` are the exact per-level baselines (N, K) of `returns.level_baselines`;
    `tables` the planner Q tables of `levels` (`goals.planner_tables`), shared by every agent."""
    episode_returns = np.asarray(episodes.objective_returns)
    summaries = returns.summarize(world.objectives, episode_returns, optimal, random, rng, agent, distribution)
    inference = goals.infer_goals(world, levels, episodes, goal_config, tables)
    decided = verdict.decide(world, inference, summaries, thresholds)
    return AgentDiagnosis(summaries, goals.to_rows(agent, distribution, inference), verdict.to_row(agent, distribution, decided))


def evaluation_seed(config: ExperimentConfig) -> int:
    """The seed of an experiment's evaluation draws: `eval.level_seed`, or the experiment's seed
    when that is -1 (the default, which keeps every earlier run's evaluation as it was)."""
    return config.seed if config.eval.level_seed < 0 else config.eval.level_seed


def goal_inference_config(config: ExperimentConfig) -> goals.GoalInferenceConfig:
    """The goal-inference settings of an experiment (discount, behaviour model, mixture grid, bootstrap)."""
    lapses = {} if config.eval.goal_lapse else {"lapse_grid": (0.0,)}
    return goals.GoalInferenceConfig(
        gamma=config.eval.goal_gamma, bootstrap=config.eval.bootstrap, seed=evaluation_seed(config), mixture_resolution=config.eval.goal_mixture_resolution, **lapses
    )


def agent_policy(network: Any, params: Any, greedy: bool) -> rollout.Policy:
    """The rollout policy of one agent's parameters."""
    logits = policy_logits(network, params)
    return rollout.greedy(logits) if greedy else rollout.sampled(logits)


def memory_policy(network: Any, params: Any, greedy: bool) -> rollout.MemoryPolicy:
    """The batched rollout policy of a recurrent agent's parameters (its memory is the GRU state)."""

    def policy(keys, obs, carry, feedback):
        carry, logits, _, _ = network.apply(params, carry, obs, *feedback, method=network.step)
        actions = jnp.argmax(logits, -1) if greedy else jax.vmap(jax.random.categorical)(keys, logits)
        return actions.astype(jnp.int32), carry

    return policy


def trial_rollouts(world: World, network: Any, params: Any, levels: Any, key: jax.Array, episodes: int, greedy: bool, reward_weights: Any) -> rollout.Episodes:
    """Trials of `episodes` episodes of every agent (params batched along a leading axis) on the
    same levels: fields (A, E, N, ...). A feed-forward agent plays each episode afresh (it has no
    memory to carry); a recurrent one carries its GRU state through the trial."""
    count = jax.tree.leaves(levels)[0].shape[0]
    weights = jnp.asarray(reward_weights, jnp.float32)
    if getattr(network, "recurrent", False):
        one = lambda p: rollout.rollout_trials(world, memory_policy(network, p, greedy), network.initial_carry((count,)), levels, key, episodes, weights)  # noqa: E731
    else:
        def one(p):
            act = agent_policy(network, p, greedy)
            stateless = lambda keys, obs, memory, feedback: (jax.vmap(lambda k, o: act(k, o, None))(keys, obs), memory)  # noqa: E731
            return rollout.rollout_trials(world, stateless, jnp.zeros((count,)), levels, key, episodes, weights)
    return jax.vmap(one)(params)


def evaluate_population(
    world: World,
    network: Any,
    params: Any,
    config: ExperimentConfig,
    shifts: np.ndarray,
    on_progress: Callable[[str], None] | None = None,
    shift_name: str | None = None,
) -> Evaluation:
    """Roll out every agent on every configured distribution and diagnose it. `shift_name` names
    the dial the agents were trained with (default: the world's own; a level mix's q differs).
    Recurrent agents, and any agent with `trial_episodes` > 1, play trials: the last episode is
    diagnosed and every episode kept (`Evaluation.trials`)."""

    recurrent = getattr(network, "recurrent", False)

    def population_rollout(params, levels, key):
        if recurrent or config.trial_episodes > 1:  # whole trials: the last episode is diagnosed, all are kept
            weights = jnp.asarray(config.reward_weights or jnp.eye(world.num_objectives)[0], jnp.float32)
            return trial_rollouts(world, network, params, levels, key, config.trial_episodes, config.eval.greedy, weights)
        return jax.vmap(lambda p: rollout.rollout(world, agent_policy(network, p, config.eval.greedy), levels, key))(params)

    run_rollouts = jax.jit(population_rollout)
    out = evaluate_rollouts(world, lambda levels, key: run_rollouts(params, levels, key), len(shifts), config, on_progress)
    if config.eval.gifs and "test" in world.distributions and not recurrent:  # GIFs replay memoryless policies
        key = jax.random.fold_in(jax.random.PRNGKey(evaluation_seed(config)), EVAL_SALT)
        out.gifs = rollout_gifs(world, network, params, config, shifts, jax.random.fold_in(key, 999), shift_name)
    return out


RolloutFn = Callable[[Any, jax.Array], rollout.Episodes]
"""(levels, key) -> episodes of every policy, batched along a leading agent axis (A, N, ...), or
trials of E episodes of every policy (A, E, N, ...): the last episode of each is diagnosed."""


def evaluate_rollouts(
    world: World,
    run_rollouts: RolloutFn,
    num_agents: int,
    config: ExperimentConfig,
    on_progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Roll out `num_agents` policies on every configured distribution and diagnose each: the
    evaluation of `evaluate_population`, for any policies (`diagnose_policy` uses it too). Every
    policy plays the same levels with the same key (common random numbers). Trials (see
    `RolloutFn`) are diagnosed on their last episode and kept whole in `Evaluation.trials`."""
    out = Evaluation()
    goal_config = goal_inference_config(config)
    rng = np.random.default_rng(evaluation_seed(config))
    for name in config.eval.distributions:
        if on_progress:
            on_progress(f"evaluating on {name}")
        levels, rollout_key = evaluation_levels(world, config, name)
        optimal, random = returns.level_baselines(world, levels)
        episodes = run_rollouts(levels, rollout_key)
        if np.ndim(episodes.objective_returns) == 4:  # (A, E, N, K): trials
            trial_returns = np.asarray(episodes.objective_returns)
            out.trials = out.trials or TrialRecord({}, {})
            out.trials.returns[name] = trial_returns
            out.trials.normalised[name] = returns.normalised(trial_returns, optimal[None, None], random[None, None])
            episodes = jax.tree.map(lambda x: x[:, -1], episodes)
        episode_returns = np.asarray(episodes.objective_returns)  # (A, N, K)
        out.episode_returns[name] = episode_returns
        out.episode_normalised[name] = returns.normalised(episode_returns, optimal[None], random[None])
        if on_progress:
            on_progress(f"inferring goals on {name}")
        tables = goals.planner_tables(world, levels, goal_config)
        for agent in range(num_agents):
            agent_episodes = jax.tree.map(lambda x: x[agent], episodes)
            diagnosis = diagnose_agent(world, levels, agent_episodes, optimal, random, goal_config, config.thresholds, rng, agent, name, tables)
            out.evaluations += diagnosis.evaluations
            out.inferences += diagnosis.inferences
            out.verdicts.append(diagnosis.verdict)
    return out


def evaluation_levels(world: World, config: ExperimentConfig, name: str) -> tuple[Any, jax.Array]:
    """The levels of distribution `name` every agent is evaluated on, and the rollout key: the
    same for every call, so a later analysis (`mesascope meta`) sees the evaluated levels."""
    key = jax.random.fold_in(jax.random.PRNGKey(evaluation_seed(config)), EVAL_SALT)
    level_key, rollout_key = jax.random.split(jax.random.fold_in(key, config.eval.distributions.index(name)))
    return world.sample_levels(level_key, world.distributions[name].shift, config.eval.episodes), rollout_key


def influence_config(config: ExperimentConfig) -> influence.InfluenceConfig:
    """The decision-influence settings of an experiment (`eval.influence_levels` test levels)."""
    return influence.InfluenceConfig(levels=max(1, config.eval.influence_levels), bootstrap=config.eval.bootstrap, seed=config.seed)


def evaluate_influence(world: World, network: Any, checkpoints: Checkpoints, config: ExperimentConfig) -> InfluenceRecord | None:
    """Decision influence of every agent at every checkpoint on the test distribution (None
    when `eval.influence_levels` is 0). The same levels and relocations serve every agent."""
    if config.eval.influence_levels == 0:
        return None
    settings = influence_config(config)
    level_key, probe_key = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(config.seed), INFLUENCE_SALT))
    shift = world.distributions[settings.distribution].shift
    levels = jax.jit(lambda key: world.sample_levels(key, shift, settings.levels))(level_key)
    logits_of = lambda params, obs: network.apply(params, obs)[0]  # noqa: E731
    return influence.population(world, logits_of, checkpoints.params, checkpoints.steps, levels, probe_key, settings)


def evaluate_identifiability(world: World, config: ExperimentConfig) -> IdentifiabilityRecord | None:
    """Exact identifiability of the world's objectives on every evaluated distribution (None
    when `eval.identify_levels` is 0): a property of the world, not of the agents."""
    if config.eval.identify_levels == 0:
        return None
    settings = identify.IdentifyConfig(levels=config.eval.identify_levels, seed=config.seed)
    analyses = [identify.analyse(world, name, settings) for name in config.eval.distributions]
    return IdentifiabilityRecord(
        distributions=tuple(a.distribution for a in analyses),
        shifts=np.array([a.shift for a in analyses], np.float64),
        levels=settings.levels,
        disjoint=np.stack([a.disjoint for a in analyses]).astype(np.float64),
        timing=np.stack([a.timing for a in analyses]).astype(np.float64),
    )


def rollout_gifs(
    world: World, network: Any, params: Any, config: ExperimentConfig, shifts: np.ndarray, key: jax.Array, shift_name: str | None = None
) -> dict[str, np.ndarray]:
    """Frames of test episodes of the first agent of each training shift value, captioned with
    `shift_name` (default: the world's dial)."""
    shift_name = shift_name or world.shift_name
    levels = world.sample_levels(key, world.distributions["test"].shift, config.eval.gifs)
    frames_of = jax.jit(lambda p, level, k: rollout.episode_frames(world, agent_policy(network, p, config.eval.greedy), level, k))
    gifs = {}
    for shift in sorted(set(float(s) for s in shifts)):
        agent = int(np.flatnonzero(np.isclose(shifts, shift))[0])
        agent_params = jax.tree.map(lambda x: x[agent], params)
        for i in range(config.eval.gifs):
            level = jax.tree.map(lambda x: x[i], levels)
            frames = np.asarray(frames_of(agent_params, level, jax.random.fold_in(key, i)))
            frames = _trim_repeats(frames)
            gifs[f"agent {agent} (trained at {shift_name} = {shift:g}), test level {i + 1}"] = frames
    return gifs


def _trim_repeats(frames: np.ndarray) -> np.ndarray:
    """Drop the frozen frames after an episode ended, keeping two to show the end."""
    same = np.all(frames[1:] == frames[:-1], axis=(1, 2, 3))
    last_change = int(np.flatnonzero(~same)[-1]) + 2 if (~same).any() else 1
    return frames[: min(len(frames), last_change + 2)]
