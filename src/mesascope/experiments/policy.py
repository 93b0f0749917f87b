"""Diagnose a policy trained anywhere: the evaluation, goal inference and verdicts of mesascope's
own agents, for a JAX function or a NumPy (SB3, torch, ...) callable over observations.

    import mesascope
    diagnosis = mesascope.diagnose_policy("coin", lambda obs: model.predict(obs, deterministic=True)[0])
    diagnosis.verdicts            # {"train": ..., "test": "proxy-aligned"}

The policy maps a batch of observations, shape (N, *observation_shape), uint8 in {0, 1} (what
`gymnasium.make("mesascope/<World>-v0")` gives), to either actions (N,) or action logits (N, A).
A function that returns a jax.Array is traced into the rollout; anything else (NumPy, torch
after `.numpy()`) is called on the host once per time step through `jax.pure_callback`. Logits are
played greedily or sampled as `config.eval.greedy` says; actions are played as given.

The episodes, levels, keys and diagnostics are those of `experiments.evaluate.evaluate_rollouts`,
so a policy gets the verdict mesascope's own agent with the same actions would get.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mesascope.diagnose import rollout
from mesascope.experiments.config import EvalConfig, ExperimentConfig, validate
from mesascope.experiments.evaluate import evaluate_identifiability, evaluate_rollouts
from mesascope.records.results import AgentRecord, ExperimentResult
from mesascope.experiments.runner import code_version, write_report
from mesascope.store.db import Store, run_id_for
from mesascope.worlds import registry
from mesascope.worlds.core import World

BACKENDS = ("auto", "jax", "numpy")


@dataclass(frozen=True)
class PolicyDiagnosis:
    """What `diagnose_policy` returns.

    Attributes:
        result: the full result (one agent, index 0), as for a stored run.
        verdicts: distribution -> verdict.
        backend: 'jax' or 'numpy': how the policy was run.
        report_path: the HTML report when stored, else None.
        reused: True when an identical diagnosis (same config, same actions) was already stored.
    """

    result: ExperimentResult
    verdicts: dict[str, str]
    backend: str
    report_path: Path | None = None
    reused: bool = False


def diagnose_policy(
    world: str | World,
    policy: Callable[[Any], Any],
    *,
    world_options: dict[str, Any] | None = None,
    config: ExperimentConfig | None = None,
    episodes: int | None = None,
    distributions: tuple[str, ...] | None = None,
    greedy: bool | None = None,
    seed: int | None = None,
    train_shift: float | None = None,
    backend: str = "auto",
    name: str = "outside-policy",
    store: Store | None = None,
) -> PolicyDiagnosis:
    """Evaluate `policy` on the world's distributions, infer its goals and give verdicts.

    Args:
        world: a registered world name, or a world built by `mesascope.worlds.make` (whose
            options are then not recorded in the config: pass a name and `world_options` to
            record them).
        policy: batch of observations (N, *obs_shape) -> actions (N,) or logits (N, A).
        world_options: options of a world given by name (as `gymnasium.make(..., world_options=)`).
        config: evaluation settings (eval.*, thresholds, seed) as for an experiment; the
            keywords below override single fields.
        episodes, distributions, greedy, seed: override `config.eval.episodes`, `.distributions`,
            `.greedy` and `config.seed`.
        train_shift: the shift dial the policy was trained at, recorded with the agent
            (default: the world's 'train' distribution).
        backend: 'auto' (trace as JAX, else run on the host), 'jax' or 'numpy'.
        name: the run name in the store and report.
        store: when given, the diagnosis is stored as a run with its HTML report.
    """
    world_name, world = _world(world, world_options)
    config = _config(world_name, world, world_options, config, episodes, distributions, greedy, seed, train_shift, name)
    validate(config)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    batch_policy, backend = as_batch_policy(world, policy, config.eval.episodes, config.eval.greedy, backend)
    run = jax.jit(lambda levels, key: jax.tree.map(lambda x: x[None], rollout.rollout_batched(world, batch_policy, levels, key)))
    played = hashlib.sha256()

    def run_and_record(levels, key):
        episodes = run(levels, key)
        actions = np.asarray(episodes.actions)[np.asarray(episodes.valid, bool)]
        _check_actions(actions, world)
        played.update(np.asarray(episodes.actions * episodes.valid).tobytes())  # what the policy did
        return episodes

    evaluation = evaluate_rollouts(world, run_and_record, 1, config)
    result = ExperimentResult(
        run_id="",
        name=config.name,
        world=world_name,
        objectives=world.objectives,
        shift_name=world.shift_name,
        config=config.to_dict(),
        agents=[AgentRecord(agent=0, seed=config.seed, train_shift=float(config.train_shifts[0]))],
        curve_steps=np.zeros(0, np.int64),
        curves={},
        evaluations=evaluation.evaluations,
        inferences=evaluation.inferences,
        verdicts=evaluation.verdicts,
        episode_returns=evaluation.episode_returns,
        episode_normalised=evaluation.episode_normalised,
        thresholds={k: float(v) for k, v in config.to_dict()["thresholds"].items()},
        identifiability=evaluate_identifiability(world, config),
    )
    verdicts = {row.distribution: row.verdict for row in result.verdicts}
    if store is None:
        return PolicyDiagnosis(result, verdicts, backend)
    return _stored(result, played.hexdigest(), verdicts, backend, store)


def as_batch_policy(world: World, policy: Callable[[Any], Any], count: int, greedy: bool, backend: str = "auto"):
    """(`rollout.BatchPolicy`, backend used) for an outside policy over `count` observations."""
    obs = jax.ShapeDtypeStruct((count, *world.observation_shape), jnp.uint8)
    zeros = np.zeros((count, *world.observation_shape), np.uint8)
    if backend in ("auto", "jax"):
        try:
            out = jax.eval_shape(policy, obs)
        except Exception as error:  # noqa: BLE001 (not traceable: a host policy)
            if backend == "jax":
                raise ValueError(f"policy is not a JAX-traceable function of observations: {error}") from error
        else:
            # A NumPy policy whose output ignores the observations' values (random actions from
            # `len(obs)`) traces too, and tracing would freeze its output as a constant; one
            # concrete call tells: a JAX function returns a jax.Array on NumPy input.
            if backend == "jax" or isinstance(policy(zeros), jax.Array):
                _check_output(out.shape, count, world.num_actions)
                return _choose(policy, greedy), "jax"
    sample = np.asarray(policy(zeros))
    _check_output(sample.shape, count, world.num_actions)
    out_spec = jax.ShapeDtypeStruct(sample.shape, jnp.int32 if sample.ndim == 1 else jnp.float32)
    kind = np.int32 if sample.ndim == 1 else np.float32

    def host(observations):
        return np.asarray(policy(np.asarray(observations)), kind).reshape(sample.shape)

    return _choose(lambda o: jax.pure_callback(host, out_spec, o, vmap_method="sequential"), greedy), "numpy"


def _choose(policy: Callable[[Any], Any], greedy: bool) -> rollout.BatchPolicy:
    """Turn actions-or-logits into actions exactly as `rollout.greedy` / `rollout.sampled` do."""

    def act(keys, observations, states):
        out = jnp.asarray(policy(observations))
        if out.ndim == 1:
            return out.astype(jnp.int32)
        if greedy:
            return jnp.argmax(out, axis=-1).astype(jnp.int32)
        return jax.vmap(jax.random.categorical)(keys, out).astype(jnp.int32)

    return act


def _check_actions(actions: np.ndarray, world: World) -> None:
    """ValueError if the policy chose an action the world does not have (JAX would clamp the
    index, so the episode would silently play another action)."""
    bad = actions[(actions < 0) | (actions >= world.num_actions)]
    if bad.size:
        allowed = ", ".join(f"{i} {name}" for i, name in enumerate(world.action_names))
        raise ValueError(f"policy chose action {int(bad[0])}, which {world.name!r} does not have; its actions are {allowed}")


def _check_output(shape: tuple[int, ...], count: int, num_actions: int) -> None:
    if tuple(shape) not in ((count,), (count, num_actions)):
        raise ValueError(
            f"policy must map {count} observations to actions ({count},) or logits ({count}, {num_actions}); got shape {tuple(shape)}"
        )


def _world(world: str | World, options: dict[str, Any] | None) -> tuple[str, World]:
    if isinstance(world, World):
        if options:
            raise ValueError("world_options apply only to a world given by name")
        return world.name, world
    return world, registry.make(world, **dict(options or {}))


def _config(world_name, world, options, config, episodes, distributions, greedy, seed, train_shift, name) -> ExperimentConfig:
    config = config or ExperimentConfig(eval=EvalConfig(greedy=True, gifs=0, influence_levels=0))
    evaluation = config.eval
    overrides = {"episodes": episodes, "distributions": None if distributions is None else tuple(distributions), "greedy": greedy}
    evaluation = replace(evaluation, **{k: v for k, v in overrides.items() if v is not None}, gifs=0, influence_levels=0)
    shift = float(world.distributions["train"].shift) if train_shift is None else float(train_shift)
    return replace(
        config, name=name, world=world_name, world_options=dict(options or {}), train_shifts=(shift,), seeds=1,
        seed=config.seed if seed is None else int(seed), eval=evaluation,
    )


def _stored(result: ExperimentResult, digest: str, verdicts: dict[str, str], backend: str, store: Store) -> PolicyDiagnosis:
    """Store `result` as a finished run with its report; the run id hashes the config and what
    the policy did (a digest of its actions in every episode), so the same diagnosis is not stored twice."""
    version = code_version()
    run_id = run_id_for({"outside_policy": result.config, "episodes": digest}, version)
    report_path = store.run_dir(run_id) / "report.html"
    if store.status(run_id) == "finished":
        stored = store.load_result(run_id)
        if not report_path.exists():
            write_report(stored, report_path)
        return PolicyDiagnosis(stored, verdicts, backend, report_path, reused=True)
    result = replace(result, run_id=run_id)
    store.begin_run(run_id, result.name, result.world, result.config, version)
    try:
        store.finish_run(result)
    except BaseException as error:
        store.mark_failed(run_id, f"{type(error).__name__}: {error}")
        raise
    write_report(result, report_path)
    return PolicyDiagnosis(result, verdicts, backend, report_path)
