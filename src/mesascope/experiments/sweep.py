"""Sweeps: one experiment per value of one config key, run in sequence into the same store.

A sweep varies a single dotted config key (`ppo.width`, `l2`, `ppo.total_steps`,
`level_mix`, a world option, …) over a list of values, on top of a base experiment. Each value
is an ordinary experiment with its own run id, so a finished one is reused and an interrupted
sweep resumes where it stopped: running the same sweep again redoes only what is missing. Every
config of the sweep is built and validated before any training starts, so a bad value fails
fast. The sweep's own id hashes its base config, key and values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Callable

from mesascope.experiments.config import ConfigError, ExperimentConfig, apply_overrides
from mesascope.records.results import ExperimentResult
from mesascope.experiments.runner import Progress, RunOutcome, run_experiment
from mesascope.store.db import Store


@dataclass(frozen=True)
class Sweep:
    """A base experiment and the values one config key takes across the sweep.

    Attributes:
        base: the experiment every value modifies.
        key: a dotted config key as `--set` accepts it (e.g. `ppo.width`).
        values: the values, as text exactly as `--set key=value` would parse them.
    """

    base: ExperimentConfig
    key: str
    values: tuple[str, ...]

    def configs(self) -> list[ExperimentConfig]:
        """One validated experiment config per value, named `<base name>[key=value]`."""
        if len(self.values) < 2:
            raise ConfigError(f"a sweep over {self.key!r} needs at least two values, got {list(self.values)}")
        if len(set(self.values)) != len(self.values):
            raise ConfigError(f"sweep values of {self.key!r} repeat: {list(self.values)}")
        out = []
        for value in self.values:
            config = apply_overrides(self.base, [f"{self.key}={value}"])
            if isinstance(_value_at(config, self.key), tuple):
                # a comma-separated sweep over a list-valued key would be ambiguous
                raise ConfigError(f"cannot sweep over {self.key!r}: it is already a list inside each experiment (set it with --set)")
            out.append(dataclasses.replace(config, name=f"{self.base.name}[{self.key}={value}]"))
        return out

    def numeric_values(self) -> list[float] | None:
        """The values as numbers, in order, or None when any is not a number (e.g. level_mix)."""
        try:
            numbers = [float(v) for v in self.values]
        except ValueError:
            return None
        return numbers if all(math.isfinite(v) for v in numbers) else None

    def sweep_id(self) -> str:
        """12 hex characters hashing the base config, the key and the values."""
        payload = json.dumps({"base": self.base.to_dict(), "key": self.key, "values": list(self.values)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _value_at(config: ExperimentConfig, key: str) -> object:
    """The value of a dotted config key (world options included)."""
    head, _, rest = key.partition(".")
    value = getattr(config, head)
    if rest:
        value = value[rest] if isinstance(value, dict) else getattr(value, rest)
    return value


def parse_over(text: str) -> tuple[str, tuple[str, ...]]:
    """`'ppo.width=16,32,64'` -> `('ppo.width', ('16', '32', '64'))`."""
    if "=" not in text:
        raise ConfigError(f"--over needs the form key=value1,value2,..., got {text!r}")
    key, _, raw = text.partition("=")
    values = tuple(v.strip() for v in raw.split(",") if v.strip())
    return key.strip(), values


@dataclass
class SweepResult:
    """The finished experiments of a sweep, in the order of its values.

    Attributes:
        sweep: what was swept.
        results: one ExperimentResult per value.
        reused: per value, whether the run was already finished and reused.
    """

    sweep: Sweep
    results: list[ExperimentResult]
    reused: list[bool]


def run_sweep(
    sweep: Sweep,
    store: Store,
    progress: Progress | None = None,
    on_run: Callable[[int, RunOutcome], None] | None = None,
    force: bool = False,
) -> SweepResult:
    """Run (or reuse) every experiment of `sweep` in order; `on_run(i, outcome)` after each."""
    configs = sweep.configs()  # validates every value before any work
    results, reused = [], []
    for i, config in enumerate(configs):
        outcome = run_experiment(config, store, progress, force=force)
        results.append(outcome.result)
        reused.append(outcome.reused)
        if on_run is not None:
            on_run(i, outcome)
    return SweepResult(sweep=sweep, results=results, reused=reused)
