"""Agents of different kinds side by side on one world, through the same evaluation, goal
inference and verdicts (`experiments.evaluate.evaluate_rollouts`, same levels for all).

Agent specs:
- `ppo` or `ppo:OBJECTIVE`: a PPO population trained on the intended objective's (or the named
  objective's) reward: an ordinary stored experiment run;
- `planner:OBJECTIVE`: the exact planner of that objective (one agent: it is deterministic up
  to tie-breaking);
- `grader-planner`: the hard-coded optimizer, a learned reward model (agents.grader, fitted to
  `labels` steps of the uniform random policy on training levels, labelled with the intended
  reward: the reward signal PPO gets) plus the exact planner of its reward; one per seed.

Every group is stored as a run (PPO through `run_experiment`; the others as evaluated results
whose run id hashes the comparison's settings), so a finished group is reused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.agents import grader as grader_module
from mesascope.agents.planner_agent import planner_for
from mesascope.agents.ppo import DEFAULTS_UNTIL_2026_12_02, PPOConfig
from mesascope.diagnose import rollout
from mesascope.experiments.config import ConfigError, EvalConfig, ExperimentConfig, validate
from mesascope.experiments.evaluate import evaluate_rollouts
from mesascope.experiments.runner import code_version, run_experiment, write_report
from mesascope.fields import spec_of
from mesascope.records.results import AgentRecord, ExperimentResult
from mesascope.store.db import Store, run_id_for
from mesascope.worlds import registry
from mesascope.worlds.core import World

KINDS = ("ppo", "planner", "grader-planner")
GRADER_SALT = 0x9AD


@dataclass(frozen=True)
class AgentSpec:
    """One group of agents: its kind and the objective it is trained or planned for."""

    kind: str
    objective: str

    @property
    def label(self) -> str:
        """How the group is named in tables and runs."""
        return self.kind if self.kind == "grader-planner" else f"{self.kind}:{self.objective}"


def parse_agents(specs: str, world: World) -> list[AgentSpec]:
    """Agent specs from `ppo,ppo:OBJ,planner:OBJ,grader-planner`; ValueError naming the allowed ones."""
    out = []
    for spec in (s.strip() for s in specs.split(",") if s.strip()):
        kind, _, objective = spec.partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown agent kind {kind!r} in {spec!r}; allowed: ppo, ppo:OBJECTIVE, planner:OBJECTIVE, grader-planner")
        if kind == "grader-planner" and objective:
            raise ValueError(f"grader-planner takes no objective (its grader learns the intended reward), got {spec!r}")
        if kind == "planner" and not objective:
            raise ValueError(f"planner needs an objective, e.g. planner:{world.intended}; objectives: {list(world.objectives)}")
        objective = objective or world.intended
        if objective not in world.objectives:
            raise ValueError(f"unknown objective {objective!r} in {spec!r}; objectives of {world.name!r}: {list(world.objectives)}")
        out.append(AgentSpec(kind, objective))
    if not out:
        raise ValueError("no agents to compare; e.g. --agents planner:register,ppo")
    if len({a.label for a in out}) != len(out):
        raise ValueError(f"agent groups repeat: {specs!r}")
    return out


@dataclass(frozen=True)
class CompareConfig:
    """A comparison: the world, the groups and the shared training and evaluation settings."""

    world: str
    agents: tuple[AgentSpec, ...]
    seeds: int = 16
    steps: int = 20_000
    train_shift: float | None = None
    episodes: int = 128
    labels: int | None = None
    seed: int = 0
    grader_batch: int = 0
    """Labelled steps per Adam step of the grader-planner's grader (0: full batch)."""
    grader_steps: int = grader_module.GraderConfig().fit_steps
    """Adam steps of the grader-planner's grader."""
    world_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Options of the world's constructor."""
    evaluation: EvalConfig | None = None
    """Evaluation settings replacing the default (which uses `episodes` and skips GIFs,
    influence and identifiability)."""

    def base(self, world: World) -> ExperimentConfig:
        """The experiment config every group shares (evaluation, thresholds, levels)."""
        shift = world.distributions["train"].shift if self.train_shift is None else self.train_shift
        ppo = PPOConfig(total_steps=self.steps, num_envs=32, num_steps=64, **DEFAULTS_UNTIL_2026_12_02)
        return ExperimentConfig(
            name=f"compare-{self.world}", world=self.world, world_options=dict(self.world_options), train_shifts=(float(shift),), seeds=self.seeds, seed=self.seed, ppo=ppo,
            eval=self.evaluation or EvalConfig(episodes=self.episodes, gifs=0, influence_levels=0, identify_levels=0),
        )


def check(config: CompareConfig) -> World:
    """Validate before any work (ConfigError naming the field)."""
    if config.world not in registry.names():
        raise ConfigError(f"world must be one of {registry.names()}, got {config.world!r}")
    try:
        world = registry.make(config.world, **config.world_options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"world_options: {error}") from None
    validate(config.base(world))
    if config.labels is not None and config.labels < 16:
        raise ConfigError(f"labels must be at least 16, got {config.labels}")
    most = spec_of(next(f for f in dataclasses.fields(grader_module.GraderConfig) if f.name == "labels")).high
    if any(spec.kind == "grader-planner" for spec in config.agents) and (config.labels or config.steps) > most:
        source = "labels" if config.labels is not None else "steps (the grader's labelled steps unless --labels)"
        raise ConfigError(f"{source} must be at most {most:,} for grader-planner, got {config.labels or config.steps:,}")
    if not 0 <= config.grader_batch <= 1_000_000:
        raise ConfigError(f"grader_batch must be in [0, 1000000] (0: full batch), got {config.grader_batch}")
    if not 1 <= config.grader_steps <= 100_000:
        raise ConfigError(f"grader_steps must be in [1, 100000], got {config.grader_steps}")
    return world


def run_group(spec: AgentSpec, config: CompareConfig, world: World, store: Store, progress: Callable[[str], None]) -> ExperimentResult:
    """The stored result of one group (computed, or reused when finished)."""
    base = config.base(world)
    if spec.kind == "ppo":
        weights = () if spec.objective == world.intended else tuple(float(o == spec.objective) for o in world.objectives)
        experiment = dataclasses.replace(base, name=f"{base.name}[{spec.label}]", reward_weights=weights)
        progress(f"{spec.label}: training {experiment.num_agents} PPO agent{'s' * (experiment.num_agents != 1)}")
        return run_experiment(experiment, store).result
    labels = config.labels or config.steps
    settings = {"compare": base.to_dict(), "group": spec.label, "labels": labels, "grader_batch": config.grader_batch, "grader_steps": config.grader_steps}
    run_id = run_id_for(settings, code_version())
    if store.status(run_id) == "finished":
        return store.load_result(run_id)
    progress(f"{spec.label}: evaluating")
    if spec.kind == "planner":
        count = 1
        policy = planner_for(world, spec.objective)
        rollouts = jax.jit(lambda levels, key: jax.tree.map(lambda x: x[None], rollout.rollout(world, policy, levels, key)))
    else:
        count = config.seeds
        grader_config = grader_module.GraderConfig(labels=labels, planner_share=0.0, batch=config.grader_batch, fit_steps=config.grader_steps)
        keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(config.seed), GRADER_SALT), count)
        params, _, _ = grader_module.fit(world, keys, grader_config, base.train_shifts[0])
        rollouts = jax.jit(lambda levels, key: _grader_planner_rollouts(world, grader_config, params, levels, key))
    evaluation = evaluate_rollouts(world, rollouts, count, dataclasses.replace(base, seeds=count))
    result = ExperimentResult(
        run_id=run_id, name=f"{base.name}[{spec.label}]", world=config.world, objectives=world.objectives, shift_name=world.shift_name,
        config={**base.to_dict(), "seeds": count, "group": spec.label, "labels": labels, "grader_batch": config.grader_batch, "grader_steps": config.grader_steps},
        agents=[AgentRecord(agent=i, seed=i, train_shift=float(base.train_shifts[0])) for i in range(count)],
        curve_steps=np.zeros(0, np.int64), curves={}, evaluations=evaluation.evaluations, inferences=evaluation.inferences,
        verdicts=evaluation.verdicts, episode_returns=evaluation.episode_returns, episode_normalised=evaluation.episode_normalised,
        thresholds={k: float(v) for k, v in base.to_dict()["thresholds"].items()},
    )
    store.begin_run(run_id, result.name, result.world, result.config, code_version())
    try:
        store.finish_run(result)
    except BaseException as error:
        store.mark_failed(run_id, f"{type(error).__name__}: {error}")
        raise
    write_report(result, store.run_dir(run_id) / "report.html")
    return result


def _grader_planner_rollouts(world: World, config: grader_module.GraderConfig, params: Any, levels: Any, key: jax.Array) -> rollout.Episodes:
    """Episodes of every grader-planner (params stacked over agents): each plans once per level
    on its grader's reward and acts greedily on those Q tables."""

    def one(agent_params):
        grade = grader_module.grade_fn(config, agent_params)
        tables = jax.vmap(lambda level: grader_module.grader_q_values(world, level, grade, 0.95, world.max_steps))(levels)
        return rollout.rollout_batched(world, grader_module.planned_batch_policy(world, tables), levels, key)

    return jax.lax.map(one, jax.tree.map(jnp.asarray, params))


def run_compare(config: CompareConfig, store: Store, progress: Callable[[str], None] | None = None) -> dict[str, ExperimentResult]:
    """Every group's stored result, by label, in the order given."""
    world = check(config)
    say = progress or (lambda _: None)
    return {spec.label: run_group(spec, config, world, store, say) for spec in config.agents}
