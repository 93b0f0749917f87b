"""Trials of several episodes on one level, as stored per-episode records: what a recurrent
agent did at every episode index of a trial, so the in-trial learning curve can be read back
from the store (the run's evaluation keeps only the last episode of each trial)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np


@dataclass
class TrialRecord:
    """Per-episode returns of every agent in trials of E episodes on the N evaluated levels of
    each distribution (the same levels and keys as the run's evaluation; episode E is the one
    the evaluation diagnosed).

    Attributes:
        returns: distribution -> (A, E, N, K) returns under every objective, intended first.
        normalised: distribution -> (A, E, N, K) the same normalised per level (0 random, 1
            the exact planner's optimum; NaN where the objective cannot tell them apart).
    """

    returns: dict[str, np.ndarray]
    normalised: dict[str, np.ndarray]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """(named arrays, string metadata) for a safetensors file; `from_arrays` inverts it."""
        arrays = {f"{group}/{name}": np.asarray(value) for group in ("returns", "normalised") for name, value in getattr(self, group).items()}
        return arrays, {"trials": json.dumps(list(self.returns))}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> "TrialRecord":
        """Rebuild a record from what `to_arrays` produced."""
        names = json.loads(metadata["trials"])
        return cls({n: arrays[f"returns/{n}"] for n in names}, {n: arrays[f"normalised/{n}"] for n in names})
