"""The imitation diagnosis of a clone population as plain data: what each clone plans for,
beside its expert (definitions in `mesascope.diagnose.planner_goals` and
`mesascope.experiments.imitation_eval`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

ROW_ARRAYS = (
    "agreement_train", "agreement_train_low", "agreement_train_high", "agreement_test", "agreement_test_low", "agreement_test_high",
    "horizon", "horizon_low", "horizon_high", "cap", "cap_low", "cap_high", "plausible_horizon_min", "plausible_horizon_max",
    "plausible_cap_min", "plausible_cap_max", "horizon_identified", "cap_identified", "beyond_support", "steps", "test_returns", "loglik",
    "best_objective",
)
"""Arrays with one row per clone, then one last row for the expert itself (its own fit, a
check of the inference on a planner whose bound is known)."""


@dataclass
class ImitationRecord:
    """Per clone (rows 0..A-1) and for the expert (row A): agreement with the expert on held-out
    training levels and on test levels (share of the expert's visited states where the clone's
    greedy action is one the expert may take, with bootstrap intervals over episodes), the best
    planner hypothesis of the expert's objective fitted to its test actions (horizon, cap: inf
    means uncapped; bootstrap intervals; the plausible set's range; whether H and c are
    identified), the objective index of the best hypothesis of any objective, the share of
    resamples whose best hypothesis exceeds the expert's bound, test returns per objective
    (rows, K), log-likelihoods per hypothesis (rows, M); and verdicts for the clones.

    Scalars: the expert's bound (`expert_horizon`, `expert_cap`), the capability threshold
    `min_agreement`, the evidence margin (nats), and the world check: the share of expert-visited
    states where the bounded expert and the unbounded planner of its objective take the same
    action sets, on training and on test levels.
    """

    rows: dict[str, np.ndarray]
    hypotheses: np.ndarray
    verdicts: tuple[str, ...]
    expert: dict[str, float | str]
    learner: str

    def __getattr__(self, name: str) -> np.ndarray:
        rows = self.__dict__.get("rows", {})
        if name in rows:
            return rows[name]
        raise AttributeError(name)

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """(named arrays, string metadata) for a safetensors file; `from_arrays` inverts it."""
        arrays = {name: np.asarray(self.rows[name], np.float64) for name in ROW_ARRAYS}
        arrays["hypotheses"] = np.asarray(self.hypotheses, np.float64)
        expert = {k: (v if isinstance(v, str) else repr(float(v))) for k, v in self.expert.items()}
        meta = {"verdicts": list(self.verdicts), "expert": expert, "learner": self.learner}
        return arrays, {"imitation": json.dumps(meta)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> "ImitationRecord":
        """Rebuild a record from what `to_arrays` produced."""
        meta = json.loads(metadata["imitation"])
        expert = {k: (float(v) if k != "objective" else v) for k, v in meta["expert"].items()}
        rows = {name: arrays[name] for name in ROW_ARRAYS if name in arrays}
        return cls(rows, arrays["hypotheses"], tuple(meta["verdicts"]), expert, meta["learner"])
