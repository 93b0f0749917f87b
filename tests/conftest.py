"""Shared fixtures: synthetic experiment results for tests that need no training; and the
compilation settings of the suite.

The suite's time goes mostly to XLA compiling tiny training and diagnosis programs, many of
them the same program built again by another test. So, for tests only: a persistent compilation
cache in a fresh directory per session, removed when the session ends (identical programs
compile once per run of the suite, never reused from an earlier run), and XLA's cheap
compilation mode (most optimisations off), which halves compile time and costs little on tiny
configs. Both go through the environment so that the worker processes of the process and Ray
backends compile the same way, bit for bit. Tests of speed-sensitive real training (the demo)
ask for `optimised_compilation`."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator

if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # the first test process (xdist's workers inherit it)
    _CACHE = tempfile.mkdtemp(prefix="mesascope-test-xla-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)  # about 80 MB per run of the suite
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
os.environ.setdefault("COLUMNS", "200")  # the CLI's tables render the same width in every test process

import jax  # noqa: E402  (after the environment it reads)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mesascope.records.results import AgentRecord, ExperimentResult, VerdictRow  # noqa: E402
from mesascope.records.trajectory import TrajectoryRecord  # noqa: E402


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


def trajectory(verdicts: list[list[str]], steps: tuple[int, ...] = (100, 200, 300)) -> TrajectoryRecord:
    """A trajectory record of the given (agent, checkpoint) verdicts, whose categories are the
    verdicts themselves (write them as categories)."""
    array = np.asarray(verdicts, object)
    return TrajectoryRecord("test", tuple(range(len(verdicts))), np.asarray(steps), array, array.copy(), np.full(array.shape, "coin", object))


@pytest.fixture
def dose_experiment() -> Callable[..., ExperimentResult]:
    """The `experiment` builder: a synthetic result whose robustly aligned share rises with the shift."""
    return experiment


@pytest.fixture
def synthetic_trajectory() -> Callable[..., TrajectoryRecord]:
    """The `trajectory` builder: a verdicts-along-training record from a table of verdicts."""
    return trajectory


@pytest.fixture
def optimised_compilation() -> Iterator[None]:
    """XLA's full optimisations for one test: real training whose run time, not its compile
    time, dominates."""
    saved = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", False)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", saved)
