"""Sweeps: one experiment per value of one config key (`Sweep`), or a grid over any number of
keys (`Grid`), run into the same store.

A grid's traced axes (training shift and the knobs of `TRACED_KNOBS`) vary across the agents of
one compiled program; its static axes (anything that changes shapes or the world: ppo.width,
ppo.depth, ppo.thinking_steps, ppo.total_steps, world options, …) give one experiment per
combination.

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

import itertools

from mesascope.experiments.config import ConfigError, ExperimentConfig, apply_overrides
from mesascope.experiments.knobs import TRACED_KNOBS
from mesascope.records.results import ExperimentResult
from mesascope.experiments.backends import Backend
from mesascope.experiments.runner import Progress, RunOutcome, code_version, run_experiment, training_id_for
from mesascope.store.db import Store, run_id_for


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


SHIFT_AXES = ("train_shift", "train_shifts")
"""Grid axis names for the training shift (a traced axis, `train_shifts` of each experiment)."""


@dataclass(frozen=True)
class Grid:
    """A base experiment and the product of several axes, each a config key and its values (as
    `--set key=value` would parse them). Traced axes become the `train_shifts` and `knob_grid`
    of every experiment; static axes give one experiment per combination.

    Attributes:
        base: the experiment every cell modifies.
        axes: (key, values) pairs, in the order given.
    """

    base: ExperimentConfig
    axes: tuple[tuple[str, tuple[str, ...]], ...]

    def traced(self) -> list[tuple[str, tuple[str, ...]]]:
        """The axes that vary inside one compiled program."""
        return [(k, v) for k, v in self.axes if k in SHIFT_AXES or k in TRACED_KNOBS]

    def static(self) -> list[tuple[str, tuple[str, ...]]]:
        """The axes that need one program (one experiment) per value."""
        return [(k, v) for k, v in self.axes if not (k in SHIFT_AXES or k in TRACED_KNOBS)]

    def configs(self) -> list[ExperimentConfig]:
        """One validated experiment per combination of the static axes (one when there are
        none), named `<base name>[k=v,...]`; raises ConfigError naming a bad key or value."""
        self._check_axes()
        traced = [f"{'train_shifts' if k in SHIFT_AXES else 'knob_grid.' + k}={','.join(v)}" for k, v in self.traced()]
        base = apply_overrides(self.base, traced)
        static = self.static()
        out = []
        for combo in itertools.product(*(values for _, values in static)):
            assignments = [f"{key}={value}" for (key, _), value in zip(static, combo)]
            config = apply_overrides(base, assignments)
            label = ",".join(assignments)
            out.append(dataclasses.replace(config, name=f"{self.base.name}[{label}]" if label else self.base.name))
        return out

    def _check_axes(self) -> None:
        keys = [k for k, _ in self.axes]
        if not keys:
            raise ConfigError("a grid needs at least one axis: --grid KEY=V1,V2,...")
        if len(set(keys)) != len(keys) or sum(k in SHIFT_AXES for k in keys) > 1:
            raise ConfigError(f"grid axes repeat a key: {keys}")
        for key, values in self.axes:
            try:
                current = _value_at(self.base, key)
            except (AttributeError, KeyError):
                current = None  # an unset world option, or a key apply_overrides will reject by name
            if key == "knob_grid" or key not in TRACED_KNOBS and key not in SHIFT_AXES and isinstance(current, (tuple, dict)):
                raise ConfigError(f"cannot make a grid axis of {key!r}: it is a list inside each experiment (set it with --set)")
            if not values:
                raise ConfigError(f"grid axis {key!r} has no values; give them as --grid {key}=V1,V2,...")
            if len(set(values)) != len(values):
                raise ConfigError(f"grid axis {key!r} repeats a value: {list(values)}")

    def static_labels(self) -> list[dict[str, str]]:
        """Per experiment of `configs()`, its static axis values (key -> value text)."""
        static = self.static()
        return [dict(zip([k for k, _ in static], combo)) for combo in itertools.product(*(v for _, v in static))]

    def sweep_id(self) -> str:
        """12 hex characters hashing the base config and the axes."""
        payload = json.dumps({"base": self.base.to_dict(), "axes": [[k, list(v)] for k, v in self.axes]}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def parse_axis(text: str) -> tuple[str, tuple[str, ...]]:
    """`'l2=0,1e-4'` -> `('l2', ('0', '1e-4'))`; ConfigError for text without `=`."""
    if "=" not in text:
        raise ConfigError(f"--grid needs the form key=value1,value2,..., got {text!r}")
    key, _, raw = text.partition("=")
    return key.strip(), tuple(v.strip() for v in raw.split(",") if v.strip())


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
    return parse_axis(text)


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


@dataclass
class GridResult:
    """The finished experiments of a grid, in the order of `Grid.configs()`.

    Attributes:
        grid: what was swept.
        results: one ExperimentResult per experiment (static combination).
        reused: per experiment, whether it was already finished and reused.
    """

    grid: Grid
    results: list[ExperimentResult]
    reused: list[bool]


def run_grid(
    grid: Grid,
    store: Store,
    progress: Progress | None = None,
    on_run: Callable[[int, RunOutcome], None] | None = None,
    force: bool = False,
    backend: Backend | None = None,
) -> GridResult:
    """Run (or reuse) every experiment of `grid`. Without a backend each trains in this process
    in turn; with one, the experiments that need training train there (in parallel) while this
    process, the store's one writer, diagnoses and stores each as it arrives. A finished
    experiment is stored at once, so an interrupted grid resumes with only the rest."""
    configs = grid.configs()  # validates every experiment before any work
    outcomes: dict[int, RunOutcome] = {}

    def finish(i: int, outcome: RunOutcome) -> None:
        outcomes[i] = outcome
        if on_run is not None:
            on_run(i, outcome)

    if backend is None:
        for i, config in enumerate(configs):
            finish(i, run_experiment(config, store, progress, force=force))
    else:
        version = code_version()
        stored = [i for i, c in enumerate(configs) if not force and (store.status(run_id_for(c.to_dict(), version)) == "finished" or store.trained_runs(training_id_for(c)))]
        for i in stored:
            finish(i, run_experiment(configs[i], store, progress))
        todo = [i for i in range(len(configs)) if i not in outcomes]
        if progress and todo:
            progress(f"training {len(todo)} experiment{'s' * (len(todo) != 1)} on the backend", 0, len(todo))
        for done, (j, cell) in enumerate(backend.train([configs[i] for i in todo]), 1):
            finish(todo[j], run_experiment(configs[todo[j]], store, progress, force=force, trained=cell))
            if progress:
                progress(f"training {len(todo)} experiment{'s' * (len(todo) != 1)} on the backend", done, len(todo))
    order = sorted(outcomes)
    return GridResult(grid, [outcomes[i].result for i in order], [outcomes[i].reused for i in order])
