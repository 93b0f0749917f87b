"""Shared fixtures: synthetic experiment results for tests that need no training."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from mesascope.records.results import AgentRecord, ExperimentResult, VerdictRow


def experiment(agents_per_shift: int = 6, shifts: tuple[float, ...] = (0.0, 0.25, 0.5)) -> ExperimentResult:
    """Agents at each shift, robustly aligned with a share rising with the shift; per-episode
    returns that agree on train and are independent at test."""
    rng = np.random.default_rng(0)
    dial = np.repeat(shifts, agents_per_shift)
    count = dial.size
    aligned = np.arange(count) % agents_per_shift < np.round(dial / max(shifts) * agents_per_shift * 0.8 + 1)
    agents = [AgentRecord(i, i, float(v)) for i, v in enumerate(dial)]
    verdicts = [VerdictRow(i, "test", "robustly aligned" if a else "proxy-aligned", "", {}) for i, a in enumerate(aligned)]
    success = (rng.random((count, 30)) < 0.7).astype(float)
    test = (rng.random((count, 30, 2)) < 0.5).astype(float)
    normalised = np.where(aligned[:, None, None], 0.9, 0.1) * np.ones((count, 30, 2))
    return ExperimentResult("run", "plots", "coin", ("coin", "exit"), "p_random_coin", {}, agents, np.zeros(1), {}, [], [],
                            verdicts, {"train": np.stack([success, success], -1), "test": test},
                            {"train": normalised, "test": normalised}, {})


@pytest.fixture
def dose_experiment() -> Callable[..., ExperimentResult]:
    """The `experiment` builder: a synthetic result whose robustly aligned share rises with the shift."""
    return experiment
