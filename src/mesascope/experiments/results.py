"""The results of one experiment as plain data: what the store saves and the report draws.

Everything here is NumPy arrays, numbers, strings and dicts, so it can be written to SQLite,
safetensors and JSON and read back identically; nothing refers to JAX objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AgentRecord:
    """One trained agent of a population: its index, seed and training shift value."""

    agent: int
    seed: int
    train_shift: float


@dataclass(frozen=True)
class EvaluationRow:
    """Returns of one agent under one objective on one distribution, with 95% bootstrap intervals
    over episodes. Normalised returns are NaN-free means over levels where they are defined;
    `undefined` counts levels where G* = G° (reported, not silently dropped)."""

    agent: int
    distribution: str
    objective: str
    mean_return: float
    return_low: float
    return_high: float
    mean_normalised: float
    normalised_low: float
    normalised_high: float
    episodes: int
    undefined: int


@dataclass(frozen=True)
class InferenceRow:
    """Goal inference for one agent, distribution and hypothesis (an objective or `random`).

    `loglik_per_step` is the maximised log-likelihood per step under a Boltzmann-rational
    planner for the hypothesis (β fitted), with a bootstrap interval over episodes; `posterior`
    is under a uniform prior over hypotheses, with its bootstrap interval."""

    agent: int
    distribution: str
    hypothesis: str
    beta: float
    loglik_per_step: float
    loglik_low: float
    loglik_high: float
    posterior: float
    posterior_low: float
    posterior_high: float


@dataclass(frozen=True)
class VerdictRow:
    """The verdict for one agent on one distribution, with the numbers it rests on."""

    agent: int
    distribution: str
    verdict: str
    kind: str
    evidence: dict[str, Any]


@dataclass
class ExperimentResult:
    """Everything one experiment produced.

    Attributes:
        run_id: hash of the config and code version.
        name: preset or experiment name.
        world: registered world name.
        objectives: objective names, intended first.
        shift_name: name of the world's shift dial.
        config: the full experiment config as JSON-able data.
        agents: one record per trained agent.
        curve_steps: (U,) environment steps at each training update.
        curves: metric name -> (A, U) values per agent and update.
        evaluations, inferences, verdicts: rows as above.
        episode_returns: distribution -> (A, N, K) per-episode returns of every agent.
        episode_normalised: distribution -> (A, N, K) normalised returns (NaN where undefined).
        thresholds: the verdict thresholds used, reported beside the verdicts.
        gifs: caption -> (T, h, w, 3) uint8 frames of sample test episodes.
        timings: phase name -> seconds.
    """

    run_id: str
    name: str
    world: str
    objectives: tuple[str, ...]
    shift_name: str
    config: dict[str, Any]
    agents: list[AgentRecord]
    curve_steps: np.ndarray
    curves: dict[str, np.ndarray]
    evaluations: list[EvaluationRow]
    inferences: list[InferenceRow]
    verdicts: list[VerdictRow]
    episode_returns: dict[str, np.ndarray]
    episode_normalised: dict[str, np.ndarray]
    thresholds: dict[str, float]
    gifs: dict[str, np.ndarray] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
