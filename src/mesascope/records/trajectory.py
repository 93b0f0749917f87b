"""Verdicts along training as plain data: each agent's verdict at every stored checkpoint on one
distribution, the record a run stores with `eval.trajectory` and `mesascope trajectory` prints.

It tests *subprocess interdependence* (Hubinger et al., §3): the prediction that agents become
competent at a proxy before they become aligned with the intended objective.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

ALIGNED_READINGS = ("robustly aligned", "mixed")
"""Categories that count as (partly) pursuing the intended objective when asking whether an
agent read as proxy-aligned first."""


@dataclass
class TrajectoryRecord:
    """Each agent's verdict at each checkpoint on one distribution; A agents, C checkpoints.

    Attributes:
        distribution: where the verdicts were taken.
        agents: (A,) agent ids, in the order of the rows.
        steps: (C,) environment steps per agent at each checkpoint (the last is the end).
        verdicts: (A, C) verdict strings.
        categories: (A, C) verdict categories (`readings.VERDICT_CATEGORIES`).
        best: (A, C) the objective goal inference preferred ('' without one).
    """

    distribution: str
    agents: tuple[int, ...]
    steps: np.ndarray
    verdicts: np.ndarray
    categories: np.ndarray
    best: np.ndarray

    def __post_init__(self) -> None:
        self.steps = np.asarray(self.steps, np.int64)
        self.agents = tuple(int(a) for a in self.agents)
        shape = (len(self.agents), self.steps.size)
        for name in ("verdicts", "categories", "best"):
            value = np.asarray(getattr(self, name), object)
            if value.shape != shape:
                raise ValueError(f"TrajectoryRecord.{name} must have shape (agents, checkpoints) = {shape}, got {value.shape}")
            setattr(self, name, value)

    def counts(self, category: str) -> np.ndarray:
        """(C,) agents with `category` at each checkpoint."""
        return (self.categories == category).sum(0).astype(int)

    def first_step(self, category: str | tuple[str, ...]) -> np.ndarray:
        """(A,) the first checkpoint step at which each agent has `category` (or any of several;
        NaN: never)."""
        hits = np.isin(self.categories, np.asarray([category] if isinstance(category, str) else list(category), object))
        first = np.where(hits.any(1), hits.argmax(1), -1)
        return np.where(first >= 0, self.steps[np.maximum(first, 0)].astype(float), np.nan)

    def proxy_first(self) -> tuple[int, int, int]:
        """(agents ever proxy-aligned; of those, the ones proxy-aligned before a robustly aligned
        or mixed reading that came later; and the ones with no such reading at any checkpoint).
        Only the second count is the order subprocess interdependence predicts; the third
        never read aligned at all."""
        proxy, aligned = self.first_step("proxy-aligned"), self.first_step(ALIGNED_READINGS)
        ever = np.isfinite(proxy)
        return int(ever.sum()), int((ever & (proxy < aligned)).sum()), int((ever & np.isnan(aligned)).sum())

    def subset(self, agents: list[int]) -> TrajectoryRecord:
        """The record of the given agent ids only (in this record's order)."""
        rows = [i for i, agent in enumerate(self.agents) if agent in set(agents)]
        return TrajectoryRecord(self.distribution, tuple(self.agents[i] for i in rows), self.steps,
                                self.verdicts[rows], self.categories[rows], self.best[rows])

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """(named arrays, string metadata) for a safetensors file (which holds only numbers, so
        the strings go in the metadata); `from_arrays` inverts it."""
        names = {"distribution": self.distribution, "agents": list(self.agents), "verdicts": self.verdicts.tolist(),
                 "categories": self.categories.tolist(), "best": self.best.tolist()}
        return {"steps": np.asarray(self.steps, np.int64)}, {"trajectory": json.dumps(names)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> "TrajectoryRecord":
        """Rebuild a record from what `to_arrays` produced."""
        names = json.loads(metadata["trajectory"])
        shape = (len(names["agents"]), int(np.size(arrays["steps"])))
        return cls(names["distribution"], tuple(names["agents"]), arrays["steps"],
                   *(np.asarray(names[key], object).reshape(shape) for key in ("verdicts", "categories", "best")))
