"""Sweeps of exact planners: known optimizers put through the same diagnosis as trained agents.

A planner agent (`agents/planner_agent.py`) pursues one named objective by value iteration
with a planning horizon, a discount and a Boltzmann temperature. Sweeping one of those knobs
gives populations whose behaviour is known by construction, diagnosed exactly like trained
agents (returns, goal inference, verdicts), so the sweep-level verdicts can be seen on cases
with a known answer: a `points` planner in the detour world turns from aligned to
proxy-seeking as its horizon grows (suboptimality alignment); a Boltzmann planner of the
intended objective grows less misaligned as its temperature falls (approximate alignment,
with inverse temperature standing in for capacity).

Each seed of a value is an independent agent: it plays its own levels of the distribution
with its own keys. No training happens, so a planner sweep takes seconds and is not stored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import jax
import numpy as np

from mesascope.agents.planner_agent import planner_for
from mesascope.diagnose import goals, returns, rollout
from mesascope.diagnose.verdict import VerdictThresholds
from mesascope.experiments.evaluate import diagnose_agent
from mesascope.records.results import AgentRecord, ExperimentResult
from mesascope.worlds import registry
from mesascope.worlds.core import World

KNOBS = ("horizon", "temperature", "gamma")
"""Planner settings a planner sweep can vary."""


@dataclass(frozen=True)
class PlannerSweep:
    """Planners for one objective of one world, one population per value of one knob.

    Attributes:
        world: registered world name.
        objective: the objective every planner pursues (intended or a proxy).
        knob: 'horizon' (value-iteration backups), 'temperature' (Boltzmann, 0 = greedy) or
            'gamma' (discount).
        values: the knob's values, at least two.
        world_options: options of the world's constructor.
        fixed: the other knobs' values (defaults: horizon = max_steps, temperature 0, gamma 0.95).
        seeds: agents per value (each plays its own levels).
        episodes: levels per agent and distribution.
        distributions: distributions every agent is diagnosed on.
        goal_gamma, bootstrap: goal-inference settings, as in `EvalConfig`.
        seed: base seed.
    """

    world: str
    objective: str
    knob: str
    values: tuple[float, ...]
    world_options: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)
    seeds: int = 8
    episodes: int = 32
    distributions: tuple[str, ...] = ("train", "test")
    goal_gamma: float = 0.9
    bootstrap: int = 200
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and its allowed values."""
        world = registry.make(self.world, **self.world_options)
        if self.objective not in world.objectives:
            raise ValueError(f"objective must be one of {list(world.objectives)}, got {self.objective!r}")
        for knob in (self.knob, *self.fixed):
            if knob not in KNOBS:
                raise ValueError(f"planner knob must be one of {list(KNOBS)}, got {knob!r}")
        for knob, value in self.fixed.items():
            _knob_value(knob, value)
        if len(self.values) < 2 or len(set(self.values)) != len(self.values):
            raise ValueError(f"values of {self.knob} must be at least two distinct numbers, got {list(self.values)}")
        for value in self.values:
            _knob_value(self.knob, value)
        for name in self.distributions:
            if name not in world.distributions:
                raise ValueError(f"distributions: unknown distribution {name!r}; allowed: {sorted(world.distributions)}")
        if not 1 <= self.seeds <= 4096 or not 2 <= self.episodes <= 65_536:
            raise ValueError(f"seeds must be in [1, 4096] and episodes in [2, 65536], got seeds={self.seeds}, episodes={self.episodes}")


def _knob_value(knob: str, value: float) -> float | int:
    """A knob's value, checked: a finite number; horizon an integer in [1, 10000], temperature
    in [0, 1e6], gamma in (0, 1]."""
    if not math.isfinite(value):
        raise ValueError(f"{knob} must be a finite number, got {value}")
    if knob == "horizon":
        if value != int(value) or not 1 <= value <= 10_000:
            raise ValueError(f"horizon must be an integer in [1, 10000], got {value}")
        return int(value)
    if knob == "temperature" and not 0 <= value <= 1e6:
        raise ValueError(f"temperature must be in [0, 1e6], got {value}")
    if knob == "gamma" and not 0 < value <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {value}")
    return float(value)


def planner_population(sweep: PlannerSweep, value: float, world: World | None = None) -> ExperimentResult:
    """Diagnose `sweep.seeds` planners with the swept knob at `value` (see module docstring).
    Pass the same `world` instance for every value to reuse compiled goal inference."""
    world = world if world is not None else registry.make(sweep.world, **sweep.world_options)
    settings = {knob: _knob_value(knob, v) for knob, v in sweep.fixed.items()} | {sweep.knob: _knob_value(sweep.knob, value)}
    policy = planner_for(world, sweep.objective, **settings)
    goal_config = goals.GoalInferenceConfig(gamma=sweep.goal_gamma, bootstrap=sweep.bootstrap, seed=sweep.seed)
    rng = np.random.default_rng(sweep.seed)
    evaluations, inferences, verdicts, episode_returns, episode_normalised = [], [], [], {}, {}
    for d, name in enumerate(sweep.distributions):
        # every agent's levels in one batch: one compiled rollout and one baseline computation
        level_key, play_key = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(sweep.seed), d))
        levels = world.sample_levels(level_key, world.distributions[name].shift, sweep.seeds * sweep.episodes)
        optimal, random = returns.level_baselines(world, levels)
        episodes = jax.jit(lambda lv, k: rollout.rollout(world, policy, lv, k))(levels, play_key)
        split = lambda tree, agent: jax.tree.map(lambda x: x[agent * sweep.episodes : (agent + 1) * sweep.episodes], tree)  # noqa: E731
        for agent in range(sweep.seeds):
            own = slice(agent * sweep.episodes, (agent + 1) * sweep.episodes)
            diagnosis = diagnose_agent(world, split(levels, agent), split(episodes, agent), optimal[own], random[own], goal_config, VerdictThresholds(), rng, agent, name)
            evaluations += diagnosis.evaluations
            inferences += diagnosis.inferences
            verdicts.append(diagnosis.verdict)
        all_returns = np.asarray(episodes.objective_returns)
        episode_returns[name] = all_returns.reshape(sweep.seeds, sweep.episodes, -1)
        episode_normalised[name] = returns.normalised(all_returns, optimal, random).reshape(sweep.seeds, sweep.episodes, -1)
    label = f"{sweep.objective} planner, {sweep.knob} = {value:g}"
    return ExperimentResult(
        run_id=f"planner-{sweep.knob}-{value:g}",
        name=label,
        world=sweep.world,
        objectives=world.objectives,
        shift_name=world.shift_name,
        config={"agent": "planner", "objective": sweep.objective, **settings, "world_options": dict(sweep.world_options)},
        agents=[AgentRecord(agent=i, seed=i, train_shift=float(world.distributions["train"].shift)) for i in range(sweep.seeds)],
        curve_steps=np.zeros(0, np.int64),
        curves={},
        evaluations=evaluations,
        inferences=inferences,
        verdicts=verdicts,
        episode_returns=episode_returns,
        episode_normalised=episode_normalised,
        thresholds={k: float(v) for k, v in asdict(VerdictThresholds()).items()},
    )


def run_planner_sweep(sweep: PlannerSweep) -> list[ExperimentResult]:
    """One diagnosed planner population per value of the swept knob, in order."""
    sweep.validate()
    world = registry.make(sweep.world, **sweep.world_options)
    return [planner_population(sweep, value, world) for value in sweep.values]
