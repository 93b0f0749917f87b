"""Run an experiment end to end: validate, train, evaluate, diagnose, store, report.

A run is identified by a hash of its config and the code version. A finished run is reused;
an interrupted or crashed one is marked failed (or left running after a hard kill) and redone
from scratch next time, never read as finished.

With a `level_mix`, agents train on the mixed world (`experiments.level_mix`; the population's
shift values are the shares q) and are evaluated on the base world exactly as without one (same
levels, goal inference and verdicts), so mixed and unmixed runs are comparable.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import mesascope
from mesascope.agents.ppo import make_train
from mesascope.experiments import checkpoints as checkpoint_store
from mesascope.experiments import level_mix, population
from mesascope.experiments.config import ExperimentConfig, validate
from mesascope.experiments.evaluate import evaluate_identifiability, evaluate_influence, evaluate_population
from mesascope.records.results import AgentRecord, ExperimentResult
from mesascope.report.html import write_report as write_html
from mesascope.store import artifacts
from mesascope.store.db import Store, run_id_for
from mesascope.worlds import registry

Progress = Callable[[str, int, int], None]
"""Progress callback: (phase description, done, total)."""


PRESENTATION = ("report", "commands", "cli.py", "testing.py")
"""Parts of the package that only present stored results: changing them is not a new run."""


def code_version() -> str:
    """The package version plus a digest of the source files that make results, so a change to
    worlds, agents, diagnostics, experiments or the store is a new run, while a better plot,
    report or command (`PRESENTATION`) reuses every finished run."""
    digest = hashlib.sha256()
    root = Path(mesascope.__file__).parent
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in PRESENTATION:
            continue
        if path.suffix in (".py", ".sql") and path.is_file():
            digest.update(str(relative).encode())
            digest.update(path.read_bytes())
    return f"{mesascope.__version__}+{digest.hexdigest()[:10]}"


@dataclass(frozen=True)
class RunOutcome:
    """What `run_experiment` returns: the result, where its report is, and whether it was reused."""

    result: ExperimentResult
    report_path: Path
    reused: bool


def run_experiment(config: ExperimentConfig, store: Store, progress: Progress | None = None, force: bool = False) -> RunOutcome:
    """Run (or reuse) the experiment `config`, store its results and write its HTML report."""
    validate(config)
    world = registry.make(config.world, **config.world_options)
    config_data = config.to_dict()
    version = code_version()
    run_id = run_id_for(config_data, version)
    report_path = store.run_dir(run_id) / "report.html"
    if store.status(run_id) == "finished" and not force:
        result = store.load_result(run_id)
        if not report_path.exists():
            write_report(result, report_path)
        return RunOutcome(result, report_path, reused=True)
    if force and store.status(run_id) == "finished":
        store.mark_failed(run_id, "re-run requested with --force")

    store.begin_run(run_id, config.name, config.world, config_data, version)
    try:
        result = _execute(config, world, run_id, store, progress)
        store.finish_run(result)
    except BaseException as error:  # Ctrl-C included: never leave a run that reads as finished
        store.mark_failed(run_id, f"{type(error).__name__}: {error}")
        raise
    write_report(result, report_path)
    return RunOutcome(result, report_path, reused=False)


def _execute(config: ExperimentConfig, world, run_id: str, store: Store, progress: Progress | None) -> ExperimentResult:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if progress and config.level_mix == "adversarial":
        progress("choosing the adversarial bank", 0, 0)
    train_world = level_mix.training_world(world, config.level_mix, config.seed, config.adversarial_pool, config.adversarial_bank)
    if train_world is not world:
        timings["level_mix"] = time.perf_counter() - start
    trainer = make_train(config.ppo, train_world, config.reward_weights or None)
    seeds, shifts = population.agent_layout(config)

    start = time.perf_counter()

    def on_chunk(done: int, total: int, _metrics: dict) -> None:
        if progress:
            progress(f"training {config.num_agents} agents", done, total)

    params, curves, checkpoints = population.train_population(trainer, config, on_chunk, checkpoints=config.eval.checkpoints)
    timings["train"] = time.perf_counter() - start
    manifest = {"run_id": run_id, "agents": config.num_agents, "network": f"ActorCritic(width={config.ppo.width}, depth={config.ppo.depth})"}
    artifacts.save_params(store.run_dir(run_id) / "params", params, manifest)
    checkpoint_store.save(store.run_dir(run_id), checkpoints, manifest)

    start = time.perf_counter()
    on_progress = (lambda phase: progress(phase, 0, 0)) if progress else None
    evaluation = evaluate_population(world, trainer.network, params, config, shifts, on_progress=on_progress, shift_name=train_world.shift_name)
    timings["evaluate"] = time.perf_counter() - start
    if progress and config.eval.influence_levels:
        progress("measuring decision influence", 0, 0)
    start = time.perf_counter()
    influence = evaluate_influence(world, trainer.network, checkpoints, config)
    timings["influence"] = time.perf_counter() - start
    start = time.perf_counter()
    identifiability = evaluate_identifiability(world, config)
    timings["identifiability"] = time.perf_counter() - start

    steps = (np.arange(1, config.ppo.num_updates + 1) * config.ppo.batch_size).astype(np.int64)
    return ExperimentResult(
        run_id=run_id,
        name=config.name,
        world=config.world,
        objectives=world.objectives,
        shift_name=train_world.shift_name,
        config=config.to_dict(),
        agents=[AgentRecord(agent=i, seed=int(seeds[i]), train_shift=float(shifts[i])) for i in range(config.num_agents)],
        curve_steps=steps,
        curves={name: np.asarray(values, np.float64) for name, values in curves.items()},
        evaluations=evaluation.evaluations,
        inferences=evaluation.inferences,
        verdicts=evaluation.verdicts,
        episode_returns=evaluation.episode_returns,
        episode_normalised=evaluation.episode_normalised,
        thresholds={k: float(v) for k, v in config.to_dict()["thresholds"].items()},
        gifs=evaluation.gifs,
        timings=timings,
        influence=influence,
        identifiability=identifiability,
    )


def write_report(result: ExperimentResult, path: Path) -> Path:
    """Write the HTML report of `result` to `path`."""
    return write_html(result, path)
