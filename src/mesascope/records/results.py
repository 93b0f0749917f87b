"""The results of one experiment as plain data: what the store saves and the report draws.

Everything here is NumPy arrays, numbers, strings and dicts, so it can be written to SQLite,
safetensors and JSON and read back identically; nothing refers to JAX objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mesascope.records.imitation import ImitationRecord
from mesascope.records.trajectory import TrajectoryRecord
from mesascope.records.trials import TrialRecord


@dataclass(frozen=True)
class AgentRecord:
    """One trained agent of a population: its index, seed, training shift value and the value of
    every traced training knob it was trained with (config key -> value; empty for runs stored
    before knobs were recorded)."""

    agent: int
    seed: int
    train_shift: float
    knobs: dict[str, float] = field(default_factory=dict)


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


INFLUENCE_ARRAYS = ("steps", "share", "share_low", "share_high", "pairs", "cell_maps", "action_probs", "picture")
"""The array fields of `InfluenceRecord`, in the order they are stored."""


@dataclass
class InfluenceRecord:
    """Decision influence of every agent at every training checkpoint (definitions in
    `mesascope.diagnose.influence`). A agents, C checkpoints, K object kinds, I interventions;
    maps are on the display level, an (H, W) grid.

    Attributes:
        kinds: (K,) names of the probed object channels.
        interventions: (I,) intervention names ("remove", "move").
        action_names: (nA,) the world's action names.
        distribution: the level distribution the states come from.
        levels: number of levels.
        steps: (C,) environment steps per agent at each checkpoint (the last is the end).
        share, share_low, share_high: (A, C, K, I) share of probed (level, cell) pairs whose
            greedy action the intervention changes, with its bootstrap interval over levels
            (NaN where a kind was never probed).
        pairs: (K,) number of probed (level, cell) pairs of each kind.
        cell_maps: (A, C, K, I, H, W) whether (share of moves for which) the greedy action
            changes at each cell of the display level; NaN where not probed.
        action_probs: (A, C, H, W, nA) action probabilities at each counted cell of the display
            level; NaN elsewhere.
        picture: (h, w, 3) uint8 rendering of the display level at its start.
    """

    kinds: tuple[str, ...]
    interventions: tuple[str, ...]
    action_names: tuple[str, ...]
    distribution: str
    levels: int
    steps: np.ndarray
    share: np.ndarray
    share_low: np.ndarray
    share_high: np.ndarray
    pairs: np.ndarray
    cell_maps: np.ndarray
    action_probs: np.ndarray
    picture: np.ndarray

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """(named arrays, string metadata) for a safetensors file; `from_arrays` inverts it."""
        names = {"kinds": list(self.kinds), "interventions": list(self.interventions), "action_names": list(self.action_names),
                 "distribution": self.distribution, "levels": int(self.levels)}
        return {name: np.asarray(getattr(self, name)) for name in INFLUENCE_ARRAYS}, {"influence": json.dumps(names)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> "InfluenceRecord":
        """Rebuild a record from what `to_arrays` produced."""
        names = json.loads(metadata["influence"])
        return cls(
            kinds=tuple(names["kinds"]), interventions=tuple(names["interventions"]), action_names=tuple(names["action_names"]),
            distribution=names["distribution"], levels=int(names["levels"]), **{name: arrays[name] for name in INFLUENCE_ARRAYS},
        )


@dataclass
class IdentifiabilityRecord:
    """Exact pairwise identifiability of the world's objectives on each evaluated distribution
    (definitions in `mesascope.diagnose.identify`); D distributions, K objectives.

    Attributes:
        distributions: (D,) names; shifts: (D,) their shift values; levels: levels drawn per one.
        disjoint: (D, K, K) mean share of reachable states whose optimal action sets are disjoint.
        timing: (D, K, K) share of levels whose reward sequences differ along the row objective's
            optimal trajectory.
    """

    distributions: tuple[str, ...]
    shifts: np.ndarray
    levels: int
    disjoint: np.ndarray
    timing: np.ndarray

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """(named arrays, string metadata) for a safetensors file; `from_arrays` inverts it."""
        arrays = {"shifts": np.asarray(self.shifts), "disjoint": np.asarray(self.disjoint), "timing": np.asarray(self.timing)}
        return arrays, {"identifiability": json.dumps({"distributions": list(self.distributions), "levels": int(self.levels)})}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> "IdentifiabilityRecord":
        """Rebuild a record from what `to_arrays` produced."""
        names = json.loads(metadata["identifiability"])
        return cls(tuple(names["distributions"]), arrays["shifts"], int(names["levels"]), arrays["disjoint"], arrays["timing"])


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
        influence: decision influence per agent and training checkpoint (None: not recorded,
            as for runs stored before it existed).
        identifiability: which objectives the evaluated distributions can tell apart (None: not
            recorded).
        imitation: for imitation learners, what each clone plans for beside its expert (None: a
            PPO run, or stored before it existed).
        trajectory: each agent's verdict at every stored checkpoint on the test distribution
            (None: `eval.trajectory` was off, or the run was stored before it existed).
        trials: for recurrent agents, every episode of the evaluated trials (None: a
            feed-forward run, or stored before it existed).
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
    influence: InfluenceRecord | None = None
    identifiability: IdentifiabilityRecord | None = None
    imitation: ImitationRecord | None = None
    trajectory: TrajectoryRecord | None = None
    trials: TrialRecord | None = None
