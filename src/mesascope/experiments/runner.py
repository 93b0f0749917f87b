"""Run an experiment end to end: validate, train, evaluate, diagnose, store, report.

A run is identified by a hash of its config and the code version; it is one *diagnosis* of one
*training*. Its training id hashes only what determines the trained parameters (world and
options, training knobs, trainer config, seeds, and the source of the code that trains), so a
run that differs from a finished one only in its thresholds, evaluation settings or diagnostic
code loads that run's stored parameters and checkpoints instead of training again
(`mesascope diagnose RUN` asks for exactly that). A finished run is reused
(after checking every file it stored against its recorded hash; a damaged one is redone);
an interrupted or crashed one is marked failed (or left running after a hard kill) and redone
from scratch next time, never read as finished. While a run is computed its process holds a
lease on it (`store.lease`), so a second identical invocation refuses instead of destroying it.
A training run whose losses or parameters stop being finite fails, naming the PPO update.

Stage hook: when the environment variable `MESASCOPE_STAGE_LOG` names a file, each stage
(train, evaluate, diagnose, store, report) appends its name to it as it starts. Tests use it to
interrupt a run at every stage; with `MESASCOPE_STAGE_HOLD=<stage>` the process also stops itself
(SIGSTOP) as that stage starts, so the kill lands exactly there. Unset, they change nothing.

With a `level_mix`, agents train on the mixed world (`experiments.level_mix`; the population's
shift values are the shares q) and are evaluated on the base world exactly as without one (same
levels, goal inference and verdicts), so mixed and unmixed runs are comparable.
"""

from __future__ import annotations

import ast
import codecs
import hashlib
import io
import os
import signal
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import numpy as np

import mesascope
from mesascope.agents.imitation import LEARNERS
from mesascope.experiments import checkpoints as checkpoint_store
from mesascope.experiments import population
from mesascope.experiments.config import ExperimentConfig, validate
from mesascope.experiments.evaluate import evaluate_identifiability, evaluate_influence, evaluate_population
from mesascope.experiments.imitation_eval import evaluate_imitation, side_by_side_gifs
from mesascope.experiments.training import TrainedCell, build_trainer, train_cell
from mesascope.experiments.trajectory import checkpoint_trajectory, default_distribution
from mesascope.records.results import AgentRecord, ExperimentResult
from mesascope.report.html import write_report as write_html
from mesascope.store.db import Store, StoreError, run_id_for
from mesascope.worlds import registry

Progress = Callable[[str, int, int], None]
"""Progress callback: (phase description, done, total)."""


PRESENTATION = ("report", "commands", "cli.py", "testing.py")
"""Parts of the package that only present stored results: changing them is not a new run."""


TRAINING_SOURCES = ("worlds", "agents", "fields.py", "experiments/knobs.py", "experiments/training.py",
                    "experiments/population.py", "experiments/level_mix.py", "experiments/adversarial_bank.py",
                    "diagnose/identify.py")
"""The source that determines trained parameters (the adversarial level mix scores levels with
diagnose/identify.py; config values enter through the fields outside `DIAGNOSIS_ONLY`, so config.py's validation is
not here); a change anywhere else re-diagnoses stored parameters, never retrains."""

DIAGNOSIS_ONLY = ("name", "eval", "thresholds")
"""Config fields training never reads (but `eval.checkpoints`: which snapshots training keeps);
every other field, including any added later, is part of the training id."""


def code_text(source: bytes) -> bytes:
    """Python source as it runs: without comments, without string statements (docstrings, the
    docstrings of fields), without blank lines or trailing spaces. Editing documentation is
    therefore not a new run. Positions come from `tokenize` (comments) and `ast` (string
    statements), whose positions do not depend on the Python version, and the rest of the
    text is kept byte for byte; source that does not parse is kept whole."""
    source = source.removeprefix(codecs.BOM_UTF8)  # tokenize's columns would not count it
    try:
        tree = ast.parse(source)
        comments = [token for token in tokenize.tokenize(io.BytesIO(source).readline) if token.type == tokenize.COMMENT]
    except (SyntaxError, tokenize.TokenError, ValueError):
        return source
    lines = source.splitlines(keepends=True)
    cuts = [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in ast.walk(tree)
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)]
    for token in comments:  # tokenize counts characters, ast counts UTF-8 bytes
        (row, start), (_, end) = token.start, token.end
        text = lines[row - 1].decode("utf-8")
        cuts.append(((row, len(text[:start].encode())), (row, len(text[:end].encode()))))
    kept = bytearray()
    position = (1, 0)
    for start, end in sorted(cuts):
        if start < position:  # a comment inside a cut string statement cannot occur; stay safe
            continue
        kept += _between(lines, position, start)
        position = end
    kept += _between(lines, position, (len(lines) + 1, 0))
    return b"\n".join(line.rstrip() for line in bytes(kept).splitlines() if line.strip())


def _between(lines: list[bytes], start: tuple[int, int], end: tuple[int, int]) -> bytes:
    """The bytes of `lines` from (row, column) `start` up to `end` (rows from 1)."""
    (first, column), (last, end_column) = start, end
    if first > len(lines):
        return b""
    if first == last:
        return lines[first - 1][column:end_column]
    middle = b"".join(lines[first: last - 1])
    tail = lines[last - 1][:end_column] if last <= len(lines) else b""
    return lines[first - 1][column:] + middle + tail


def _source_digest(include: Callable[[Path], bool]) -> str:
    digest = hashlib.sha256()
    root = Path(mesascope.__file__).parent
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.suffix in (".py", ".sql") and path.is_file() and include(relative):
            digest.update(str(relative).encode())
            digest.update(code_text(path.read_bytes()) if path.suffix == ".py" else path.read_bytes())
    return digest.hexdigest()[:10]


def code_version() -> str:
    """The package version plus a digest of the source files that make results, so a change to
    worlds, agents, diagnostics, experiments or the store is a new run, while a better plot,
    report or command (`PRESENTATION`) reuses every finished run."""
    return f"{mesascope.__version__}+{_source_digest(lambda p: p.parts[0] not in PRESENTATION)}"


def training_version() -> str:
    """A digest of the source that trains (`TRAINING_SOURCES`)."""
    return _source_digest(lambda p: any(p.as_posix() == s or p.parts[0] == s for s in TRAINING_SOURCES))


def training_id_for(config: ExperimentConfig) -> str:
    """12 hex characters naming the training `config` asks for: equal for configs that differ
    only in name, evaluation settings (but the number of checkpoints) and thresholds."""
    data = config.to_dict()
    payload = {key: value for key, value in data.items() if key not in DIAGNOSIS_ONLY}
    payload["checkpoints"] = config.eval.checkpoints
    return "t" + run_id_for(payload, training_version())[1:]


STAGE_LOG = "MESASCOPE_STAGE_LOG"
"""Environment variable naming a file each stage appends its name to as it starts (a hook for
tests that interrupt runs at every stage)."""
STAGE_HOLD = "MESASCOPE_STAGE_HOLD"
"""Environment variable naming a stage at whose start the process stops itself (SIGSTOP), so a
test can kill it exactly there rather than racing a stage that may take milliseconds."""


class TrainingDiverged(RuntimeError):
    """Training produced non-finite losses or parameters; the message names the PPO update."""


@dataclass(frozen=True)
class RunOutcome:
    """What `run_experiment` returns: the result, where its report is, whether it was reused,
    and why a finished run was redone ('' when it was not)."""

    result: ExperimentResult
    report_path: Path
    reused: bool
    redone: str = ""


def _stage(name: str) -> None:
    log = os.environ.get(STAGE_LOG)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(name + "\n")
    if os.environ.get(STAGE_HOLD) == name:
        os.kill(os.getpid(), signal.SIGSTOP)


def run_experiment(
    config: ExperimentConfig,
    store: Store,
    progress: Progress | None = None,
    force: bool = False,
    trained_by: str | None = None,
    trained: TrainedCell | None = None,
) -> RunOutcome:
    """Run (or reuse) the experiment `config`, store its results and write its HTML report.

    `trained_by` names a finished run whose stored parameters to diagnose instead of training
    (its config must ask for the same training; the training code may have changed since):
    `mesascope diagnose`. `trained` is the cell a backend already trained for `config`.
    Otherwise a finished run with the same training id lends its parameters, or training runs.

    Raises RunInProgressError (from the store) while another live process computes the same
    run, and TrainingDiverged when training stops being finite (the run is marked failed)."""
    validate(config)
    world = registry.make(config.world, **config.world_options)
    config_data = config.to_dict()
    version = code_version()
    run_id = run_id_for(config_data, version)
    report_path = store.run_dir(run_id) / "report.html"
    redone = "--force" if force and store.status(run_id) == "finished" else ""
    if store.status(run_id) == "finished" and not force:
        try:
            result = store.load_result(run_id)  # checks every recorded file's size and hash
        except StoreError as error:
            redone = str(error)
        else:
            if not report_path.exists():
                _stage("report")
                write_report(result, report_path)
            return RunOutcome(result, report_path, reused=True)

    source = store.load_result(trained_by) if trained_by else None
    training_id = (store.training_id(trained_by) if trained_by else None) or training_id_for(config)
    # a finished run redone on request (--force) is kept until its redo has finished
    backup = store.set_aside(run_id) if redone == "--force" else None
    store.begin_run(run_id, config.name, config.world, config_data, version, replace_finished=bool(redone), training_id=training_id)
    try:
        with store.heartbeat(run_id):
            result, files = _execute(config, world, run_id, store, progress, trained or source or _trained_by(store, training_id, run_id))
            _stage("store")
            store.finish_run(result, files)
    except BaseException as error:  # Ctrl-C and SIGTERM included: never leave a run that reads as finished
        store.mark_failed(run_id, f"{type(error).__name__}: {error}")
        if backup is not None:
            store.restore(backup)
        raise
    if backup is not None:
        store.discard(backup)
    _stage("report")
    write_report(result, report_path)
    return RunOutcome(result, report_path, reused=False, redone=redone)


def _trained_by(store: Store, training_id: str, run_id: str) -> ExperimentResult | None:
    """A finished run (not `run_id`) whose stored training is `training_id` and whose files are
    intact, or None: then the parameters must be trained."""
    for candidate in store.trained_runs(training_id):
        if candidate == run_id:
            continue
        try:
            return store.load_result(candidate)  # checks every stored file against its hash
        except StoreError:
            continue
    return None


def check_finite(curves: dict[str, np.ndarray], params: list, batch_size: int) -> None:
    """Raise TrainingDiverged naming the first PPO update whose losses are not finite, or the
    checkpoint whose parameters are not (episode-return curves may be NaN: no episode ended)."""
    losses = {name: np.asarray(v) for name, v in curves.items() if not name.startswith("return/") and name not in ("episodes", "episode_length")}
    bad = [np.flatnonzero(~np.isfinite(v).all(axis=0)) for v in losses.values()]
    first = min((int(b[0]) for b in bad if b.size), default=None)
    if first is not None:
        names = sorted(n for n, v in losses.items() if not np.isfinite(v[:, first]).all())
        raise TrainingDiverged(
            f"training diverged: {', '.join(names)} not finite at PPO update {first + 1} "
            f"(after {(first + 1) * batch_size} environment steps per agent); try a smaller "
            "ppo.learning_rate or ppo.max_grad_norm"
        )
    for i, tree in enumerate(params):
        leaves = jax.tree_util.tree_leaves(tree)
        if not all(np.isfinite(np.asarray(leaf)).all() for leaf in leaves):
            raise TrainingDiverged(f"training diverged: the parameters of checkpoint {i + 1} are not finite")


def _execute(
    config: ExperimentConfig, world, run_id: str, store: Store, progress: Progress | None, source: ExperimentResult | TrainedCell | None
) -> tuple[ExperimentResult, list[Path]]:
    """Train (or take the parameters of `source`: a stored run or a cell trained elsewhere),
    evaluate, diagnose; the result and its files."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if progress and config.level_mix == "adversarial":
        progress("choosing the adversarial bank", 0, 0)
    trainer, shift_name = build_trainer(config)
    if config.level_mix != "none":
        timings["level_mix"] = time.perf_counter() - start
    seeds, shifts = population.agent_layout(config)
    knobs = {key: values for key, values in population.agent_knobs(config).items() if key != "train_shift"}

    start = time.perf_counter()
    _stage("train")

    def on_chunk(done: int, total: int, _metrics: dict) -> None:
        if progress:
            progress(f"training {config.num_agents} agent{'s' * (config.num_agents != 1)}", done, total)

    if source is None:
        cell = train_cell(config, on_chunk, built=(trainer, shift_name))
        params, curves, checkpoints = cell.params, cell.curves, cell.checkpoints
        timings["train"] = time.perf_counter() - start
    elif isinstance(source, TrainedCell):
        params, curves, checkpoints = source.params, source.curves, source.checkpoints
    else:
        if progress:
            progress(f"loading the parameters trained by run {source.run_id}", 0, 0)
        checkpoints = checkpoint_store.load(store.run_dir(source.run_id), trainer.config.num_updates * trainer.config.batch_size)
        params, curves = checkpoints.params[-1], source.curves
        timings["load_training"] = time.perf_counter() - start
    check_finite(curves, checkpoints.params, trainer.config.batch_size)
    manifest = {"run_id": run_id, "agents": config.num_agents, "network": type(trainer.network).__name__, "width": config.ppo.width,
                "depth": config.ppo.depth, "thinking_steps": config.ppo.thinking_steps, "halting": config.ppo.halting,
                "agent": config.agent, "trial_episodes": config.trial_episodes}
    files = checkpoint_store.save(store.run_dir(run_id), checkpoints, manifest)  # the last is `params`

    start = time.perf_counter()
    _stage("evaluate")
    on_progress = (lambda phase: progress(phase, 0, 0)) if progress else None
    evaluation = evaluate_population(world, trainer.network, params, config, shifts, on_progress=on_progress, shift_name=shift_name)
    timings["evaluate"] = time.perf_counter() - start
    _stage("diagnose")
    if progress and config.eval.influence_levels:
        progress("measuring decision influence", 0, 0)
    start = time.perf_counter()
    influence = evaluate_influence(world, trainer.network, checkpoints, config)
    timings["influence"] = time.perf_counter() - start
    start = time.perf_counter()
    identifiability = evaluate_identifiability(world, config)
    timings["identifiability"] = time.perf_counter() - start

    imitation = None
    if config.agent in LEARNERS:
        if progress:
            progress("asking what each clone plans for", 0, 0)
        start = time.perf_counter()
        imitation = evaluate_imitation(world, trainer.network, params, config, shifts)
        if config.eval.gifs:
            evaluation.gifs.update(side_by_side_gifs(world, trainer.network, params, config, shifts))
        timings["imitation"] = time.perf_counter() - start
    trajectory = None
    if config.eval.trajectory and len(checkpoints.params) >= 2:
        start = time.perf_counter()
        on_checkpoint = (lambda done, total: progress("diagnosing every checkpoint", done, total)) if progress else None
        trajectory = checkpoint_trajectory(world, trainer.network, checkpoints, config, shifts, shift_name,
                                           default_distribution(config.eval.distributions), evaluation.verdicts, on_checkpoint)
        timings["trajectory"] = time.perf_counter() - start
    steps = (np.arange(1, trainer.config.num_updates + 1) * trainer.config.batch_size).astype(np.int64)
    result = ExperimentResult(
        run_id=run_id,
        name=config.name,
        world=config.world,
        objectives=world.objectives,
        shift_name=shift_name,
        config=config.to_dict(),
        agents=[AgentRecord(agent=i, seed=int(seeds[i]), train_shift=float(shifts[i]), knobs={k: float(v[i]) for k, v in knobs.items()})
                for i in range(config.num_agents)],
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
        imitation=imitation,
        trajectory=trajectory,
        trials=evaluation.trials,
    )
    return result, files


def write_report(result: ExperimentResult, path: Path) -> Path:
    """Write the HTML report of `result` to `path`."""
    return write_html(result, path)
